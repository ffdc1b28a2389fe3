//! The breaker's states and the values it hands out: permits, outcomes, transitions and
//! snapshots.

use std::fmt;
use std::time::Duration;

/// A breaker state, named as Resilience4j names them (snake_case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Calls pass and are recorded; the rates may open the breaker.
    Closed,
    /// No call passes until `wait_in_open` has passed.
    Open,
    /// `half_open_calls` probes pass; their rates decide closed or open.
    HalfOpen,
    /// Every call passes and nothing is recorded (set through the admin API).
    Disabled,
    /// No call passes until the admin API says otherwise.
    ForcedOpen,
}

impl State {
    /// Every state, in the order metrics list them.
    pub const ALL: [State; 5] = [
        State::Closed,
        State::Open,
        State::HalfOpen,
        State::Disabled,
        State::ForcedOpen,
    ];

    /// `closed`, `open`, `half_open`, `disabled` or `forced_open`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
            State::Disabled => "disabled",
            State::ForcedOpen => "forced_open",
        }
    }

    /// The state named `text` (as [`State::as_str`] writes it).
    pub fn parse(text: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub(super) fn code(self) -> u64 {
        self as u64
    }

    pub(super) fn from_code(code: u64) -> State {
        State::ALL[(code as usize) % State::ALL.len()]
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Leave to make one call, from [`super::CircuitBreaker::try_acquire`]; hand it back with
/// `record` or `release`.
#[must_use = "a permit must be recorded or released, or a half-open probe slot is lost"]
#[derive(Debug, PartialEq, Eq)]
pub struct Permit {
    /// The state episode that admitted the call; outcomes of older episodes are not counted.
    pub(super) generation: u64,
}

/// The breaker refused the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker is {state}")]
pub struct NotPermitted {
    /// The state that refused it.
    pub state: State,
}

/// How a permitted call ended, as the breaker records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallOutcome {
    /// The outcome is in the breaker's `record` list.
    pub failed: bool,
    /// From the start of the call to its response head (or failure).
    pub duration: Duration,
}

/// Why a transition happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The failure rate reached its threshold.
    FailureRate,
    /// The slow-call rate reached its threshold.
    SlowCallRate,
    /// The half-open probes stayed below both thresholds.
    ProbesPassed,
    /// `wait_in_open` has passed.
    WaitInOpenElapsed,
    /// `max_wait_in_half_open` has passed before the probes decided.
    MaxWaitInHalfOpenElapsed,
    /// The admin API asked for it.
    Admin,
}

impl Reason {
    /// A snake_case name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::FailureRate => "failure_rate",
            Reason::SlowCallRate => "slow_call_rate",
            Reason::ProbesPassed => "probes_passed",
            Reason::WaitInOpenElapsed => "wait_in_open_elapsed",
            Reason::MaxWaitInHalfOpenElapsed => "max_wait_in_half_open_elapsed",
            Reason::Admin => "admin",
        }
    }
}

/// One state change, reported once to the breaker's [`super::TransitionListener`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transition {
    /// The state left.
    pub from: State,
    /// The state entered.
    pub to: State,
    /// Why.
    pub reason: Reason,
    /// When it took effect (clock nanoseconds; a timed transition is dated at its deadline).
    pub at: u64,
    /// Failure rate of the deciding window in percent; `None` below its minimum calls.
    pub failure_rate: Option<f32>,
    /// Slow-call rate of the deciding window in percent; `None` below its minimum calls.
    pub slow_call_rate: Option<f32>,
}

/// Calls counted since the breaker was created; monotonic, for Prometheus counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallTotals {
    /// Recorded calls that did not fail (slow ones included).
    pub successful: u64,
    /// Recorded calls that failed.
    pub failed: u64,
    /// Recorded calls that were slow (failed or not).
    pub slow: u64,
    /// Calls refused.
    pub not_permitted: u64,
}

/// What the admin API and metrics show of a breaker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerSnapshot {
    /// Current state.
    pub state: State,
    /// Failure rate of the current window in percent; `None` below the minimum calls.
    pub failure_rate: Option<f32>,
    /// Slow-call rate of the current window in percent; `None` below the minimum calls.
    pub slow_call_rate: Option<f32>,
    /// Calls in the current window (Resilience4j's `numberOfBufferedCalls`).
    pub buffered_calls: u32,
    /// Failed calls in the window.
    pub failed_calls: u32,
    /// Slow calls in the window.
    pub slow_calls: u32,
    /// Calls refused since the breaker was created.
    pub not_permitted: u64,
    /// Monotonic call counts since the breaker was created.
    pub totals: CallTotals,
}
