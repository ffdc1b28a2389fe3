//! A per-backend circuit breaker with Resilience4j's semantics.
//!
//! It follows Resilience4j's `CircuitBreakerStateMachine` with automatic open → half-open:
//!
//! * closed: every call passes; after each recorded call, once the window holds the minimum
//!   number of calls (clamped to the size of a count window), a failure rate or slow-call rate
//!   at or over its threshold opens the breaker;
//! * open: nothing passes; the window that opened it is kept (late outcomes of calls admitted
//!   before still land in it); at `wait_in_open` the breaker turns half-open by itself;
//! * half-open: a fresh count window of `half_open_calls`; exactly that many permits are
//!   handed out (a released permit is handed out again); once `min(minimum_calls,
//!   half_open_calls)` probes are recorded, their rates decide open or closed; after
//!   `max_wait_in_half_open` (if set) it reopens;
//! * disabled / forced_open: everything / nothing passes, nothing is recorded;
//! * entering closed starts an empty window.
//!
//! One deliberate difference: every permit carries the episode (generation) that issued it,
//! and an outcome is recorded only in that episode's window (or, once open, in the window it
//! carried over). Resilience4j counts a call admitted while closed that ends during half-open
//! as a probe; here it is not, so the probes alone decide.
//!
//! Time is passed in as clock nanoseconds ([`crate::backend::clock::now`] on the request path,
//! a number in tests). Asking permission while closed or disabled is one atomic load; recording
//! an outcome is a short critical section under an uncontended-in-practice `Mutex` (Resilience4j
//! also synchronises its ring buffer); nothing here is async, so no lock is held across an
//! `.await`. Transitions are reported once each to a [`TransitionListener`], after the lock is
//! released, by whichever call caused them (a request, a record, a `tick` from a timer, the
//! admin API).

mod guard;
mod machine;
mod state;
mod window;

pub use guard::BreakerGuard;
pub use state::{
    BreakerSnapshot, CallOutcome, CallTotals, NotPermitted, Permit, Reason, State, Transition,
};
pub use window::Tally;

use crate::backend::Outcome;
use crate::config::BreakerConfig;
use machine::Machine;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Told of every state change of a breaker, once, outside its lock.
pub trait TransitionListener: Send + Sync {
    /// Called after `t` has taken effect.
    fn on_transition(&self, t: &Transition);
}

/// A listener that ignores transitions.
#[derive(Debug, Default, Clone, Copy)]
pub struct IgnoreTransitions;

impl TransitionListener for IgnoreTransitions {
    fn on_transition(&self, _: &Transition) {}
}

/// The circuit breaker of one backend.
pub struct CircuitBreaker {
    cfg: Arc<BreakerConfig>,
    /// `generation << 3 | state`, republished after every change, for the lock-free fast path.
    word: AtomicU64,
    /// The open state's deadline (0 when not open), for refusing without the lock.
    open_until: AtomicU64,
    machine: Mutex<Machine>,
    listener: Arc<dyn TransitionListener>,
    successful: AtomicU64,
    failed: AtomicU64,
    slow: AtomicU64,
    not_permitted: AtomicU64,
}

impl std::fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("state", &self.state())
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl CircuitBreaker {
    /// A closed breaker that reports transitions nowhere.
    pub fn new(cfg: Arc<BreakerConfig>) -> Self {
        Self::with_listener(cfg, Arc::new(IgnoreTransitions))
    }

    /// A closed breaker that reports each transition to `listener`.
    pub fn with_listener(cfg: Arc<BreakerConfig>, listener: Arc<dyn TransitionListener>) -> Self {
        let machine = Machine::new(cfg.clone(), 0);
        let breaker = Self {
            cfg,
            word: AtomicU64::new(0),
            open_until: AtomicU64::new(0),
            machine: Mutex::new(machine),
            listener,
            successful: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            slow: AtomicU64::new(0),
            not_permitted: AtomicU64::new(0),
        };
        breaker.publish(&breaker.lock());
        breaker
    }

    /// Its settings.
    pub fn config(&self) -> &Arc<BreakerConfig> {
        &self.cfg
    }

    /// Leave to make one call at `now`, or the state that refuses it (counted as not
    /// permitted). An open breaker whose `wait_in_open` has passed turns half-open here.
    pub fn try_acquire(&self, now: u64) -> Result<Permit, NotPermitted> {
        let word = self.word.load(Ordering::Acquire);
        let state = State::from_code(word & 7);
        let refused = match state {
            State::Closed | State::Disabled => {
                return Ok(Permit {
                    generation: word >> 3,
                });
            }
            State::ForcedOpen => Some(state),
            State::Open if now < self.open_until.load(Ordering::Acquire) => Some(state),
            State::Open | State::HalfOpen => None,
        };
        let result = match refused {
            Some(state) => Err(state),
            None => self.locked(|m, out| m.acquire(now, out)),
        };
        result.map_err(|state| {
            self.not_permitted.fetch_add(1, Ordering::Relaxed);
            NotPermitted { state }
        })
    }

    /// True when [`Self::try_acquire`] at `now` would permit a call, without taking a permit
    /// or counting a refusal: the balancer's eligibility test (one atomic load when closed).
    pub fn would_permit(&self, now: u64) -> bool {
        let word = self.word.load(Ordering::Acquire);
        match State::from_code(word & 7) {
            State::Closed | State::Disabled => true,
            State::ForcedOpen => false,
            State::Open if now < self.open_until.load(Ordering::Acquire) => false,
            State::Open | State::HalfOpen => self.lock().would_permit(now),
        }
    }

    /// [`Self::try_acquire`] returning a guard that releases the permit if dropped unrecorded
    /// (a cancelled request never leaks a half-open probe slot).
    pub fn acquire_guarded(self: &Arc<Self>, now: u64) -> Result<BreakerGuard, NotPermitted> {
        self.try_acquire(now)
            .map(|permit| BreakerGuard::new(self.clone(), permit))
    }

    /// Records how a permitted call ended at `now`; may open or close the breaker.
    pub fn record(&self, permit: Permit, now: u64, outcome: CallOutcome) {
        if self.state() == State::Disabled {
            return;
        }
        let counted = self.locked(|m, out| m.record(permit, now, outcome, out));
        if counted {
            let counter = if outcome.failed {
                &self.failed
            } else {
                &self.successful
            };
            counter.fetch_add(1, Ordering::Relaxed);
            if outcome.duration > self.cfg.slow_call_duration {
                self.slow.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Gives back a permit whose call ended neither way (the client went away, the request was
    /// never sent); a half-open probe slot becomes free again.
    pub fn release(&self, permit: Permit) {
        if self.state() == State::HalfOpen {
            self.locked(|m, _| m.release(permit));
        }
    }

    /// Classifies a request outcome with this breaker's `record` list.
    pub fn outcome(&self, outcome: &Outcome) -> CallOutcome {
        let (failed, duration) = match *outcome {
            Outcome::Response { status, rtt } => (self.cfg.record.contains_status(status), rtt),
            Outcome::Failed { kind, elapsed } => (self.cfg.record.contains_kind(kind), elapsed),
        };
        CallOutcome { failed, duration }
    }

    /// The state as last changed (an open breaker past its wait stays `Open` here until
    /// something calls [`Self::tick`] or [`Self::try_acquire`]).
    pub fn state(&self) -> State {
        State::from_code(self.word.load(Ordering::Acquire) & 7)
    }

    /// The state at `now`, counting timed transitions that are due but not yet applied.
    pub fn state_at(&self, now: u64) -> State {
        self.lock().state_at(now)
    }

    /// Applies the timed transitions due by `now` (open → half-open after `wait_in_open`,
    /// half-open → open after `max_wait_in_half_open`) and returns the state.
    pub fn tick(&self, now: u64) -> State {
        self.locked(|m, out| {
            m.tick(now, out);
            m.state()
        })
    }

    /// When the next timed transition is due (clock nanoseconds), for a timer to call
    /// [`Self::tick`] then; `None` in closed, disabled and forced_open (and in half-open
    /// without `max_wait_in_half_open`).
    pub fn next_deadline(&self) -> Option<u64> {
        self.lock().deadline()
    }

    /// Moves to `to` (admin API: `forced_open`, `disabled`, `closed`, also `open` and
    /// `half_open`); `None` when already there. Also reported to the listener.
    pub fn transition_to(&self, to: State, now: u64) -> Option<Transition> {
        self.locked(|m, out| {
            let t = m.transition_to(to, now);
            out.extend(t);
            t
        })
    }

    /// Back to closed with an empty window (Resilience4j `reset`); the transition, if the
    /// state changed, is also reported to the listener.
    pub fn reset(&self, now: u64) -> Option<Transition> {
        self.locked(|m, out| {
            let t = m.reset(now);
            out.extend(t);
            t
        })
    }

    /// State, rates and counts at `now`, after applying due timed transitions.
    pub fn metrics_snapshot(&self, now: u64) -> BreakerSnapshot {
        let (state, tally, minimum) = self.locked(|m, out| {
            m.tick(now, out);
            let (tally, minimum) = m.tally(now);
            (m.state(), tally, minimum)
        });
        let totals = CallTotals {
            successful: self.successful.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            slow: self.slow.load(Ordering::Relaxed),
            not_permitted: self.not_permitted.load(Ordering::Relaxed),
        };
        BreakerSnapshot {
            state,
            failure_rate: tally.failure_rate(minimum),
            slow_call_rate: tally.slow_call_rate(minimum),
            buffered_calls: tally.calls,
            failed_calls: tally.failed,
            slow_calls: tally.slow,
            not_permitted: totals.not_permitted,
            totals,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Machine> {
        self.machine.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` under the lock, republishes the state, then reports transitions unlocked.
    fn locked<T>(&self, f: impl FnOnce(&mut Machine, &mut Vec<Transition>) -> T) -> T {
        let mut out = Vec::new();
        let value = {
            let mut m = self.lock();
            let generation = m.generation();
            let value = f(&mut m, &mut out);
            if m.generation() != generation {
                self.publish(&m);
            }
            value
        };
        for t in &out {
            self.listener.on_transition(t);
        }
        value
    }

    fn publish(&self, m: &Machine) {
        let until = match m.state() {
            State::Open => m.deadline().unwrap_or(u64::MAX),
            _ => 0,
        };
        self.open_until.store(until, Ordering::Release);
        self.word
            .store(m.generation() << 3 | m.state().code(), Ordering::Release);
    }
}

#[cfg(test)]
mod tests;
