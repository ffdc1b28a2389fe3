//! `upstreams.<name>.circuit_breaker`: a per-backend breaker with Resilience4j's settings, as
//! written and validated.
//!
//! Keys are the snake_case of Resilience4j's names with its defaults, except `wait_in_open`
//! (30 s instead of 60 s: a proxy has other backends to send traffic to, and a restarted
//! backend should not sit out a whole minute).

use super::error::Issues;
use super::outcomes::{OutcomeItem, OutcomeSet};
use super::units::Dur;
use super::validate::positive;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Largest count window, in calls.
const MAX_COUNT_WINDOW: u32 = 10_000;
/// Largest time window, in seconds.
const MAX_TIME_WINDOW: u32 = 3_600;

/// The breaker as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCircuitBreaker {
    /// The window the rates are computed over (`slidingWindowType` + `slidingWindowSize`).
    #[serde(default)]
    pub sliding_window: RawSlidingWindow,
    /// Calls in the window before the rates count (`minimumNumberOfCalls`).
    #[serde(default = "hundred")]
    pub minimum_calls: u32,
    /// Failure percentage that opens the breaker (`failureRateThreshold`).
    #[serde(default = "fifty")]
    pub failure_rate_threshold: u32,
    /// A call longer than this is slow (`slowCallDurationThreshold`).
    #[serde(default = "slow_call_duration_default")]
    pub slow_call_duration: Dur,
    /// Slow-call percentage that opens the breaker (`slowCallRateThreshold`).
    #[serde(default = "hundred")]
    pub slow_call_rate_threshold: u32,
    /// Time spent open before probing (`waitDurationInOpenState`).
    #[serde(default = "wait_in_open_default")]
    pub wait_in_open: Dur,
    /// Probes admitted in half-open (`permittedNumberOfCallsInHalfOpenState`).
    #[serde(default = "ten")]
    pub half_open_calls: u32,
    /// Longest stay in half-open before reopening; `0s` waits for the probes
    /// (`maxWaitDurationInHalfOpenState`).
    #[serde(default = "zero")]
    pub max_wait_in_half_open: Dur,
    /// Outcomes recorded as failures (`recordExceptions`).
    #[serde(default = "record_default")]
    pub record: Vec<OutcomeItem>,
}

/// `sliding_window` as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSlidingWindow {
    /// `count` (last `size` calls) or `time` (last `size` seconds).
    #[serde(rename = "type", default)]
    pub kind: WindowKind,
    /// Calls or seconds.
    #[serde(default = "hundred")]
    pub size: u32,
}

impl Default for RawSlidingWindow {
    fn default() -> Self {
        Self {
            kind: WindowKind::Count,
            size: 100,
        }
    }
}

/// What a sliding window counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowKind {
    /// The last `size` calls (`COUNT_BASED`).
    #[default]
    Count,
    /// The calls of the last `size` seconds, in per-second buckets (`TIME_BASED`).
    Time,
}

/// A validated breaker config, shared by the breakers of an upstream's backends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Count or time window.
    pub window: WindowKind,
    /// Calls (count) or seconds (time) in the window, at least 1.
    pub window_size: u32,
    /// Calls needed before the rates count, at least 1 (a count window clamps it to its size).
    pub minimum_calls: u32,
    /// Failure percentage that opens, 1..=100.
    pub failure_rate_threshold: u32,
    /// Calls longer than this are slow.
    pub slow_call_duration: Duration,
    /// Slow-call percentage that opens, 1..=100.
    pub slow_call_rate_threshold: u32,
    /// Time open before half-open.
    pub wait_in_open: Duration,
    /// Probes admitted in half-open, at least 1.
    pub half_open_calls: u32,
    /// Longest stay in half-open; `None` waits for the probes however long they take.
    pub max_wait_in_half_open: Option<Duration>,
    /// Outcomes recorded as failures.
    pub record: OutcomeSet,
}

impl Default for BreakerConfig {
    /// The documented defaults (what `circuit_breaker: {}` gives).
    fn default() -> Self {
        Self {
            window: WindowKind::Count,
            window_size: 100,
            minimum_calls: 100,
            failure_rate_threshold: 50,
            slow_call_duration: slow_call_duration_default().0,
            slow_call_rate_threshold: 100,
            wait_in_open: wait_in_open_default().0,
            half_open_calls: 10,
            max_wait_in_half_open: None,
            record: OutcomeSet::new(&record_default()),
        }
    }
}

impl BreakerConfig {
    /// The minimum number of calls as Resilience4j applies it in closed state: clamped to the
    /// size of a count window.
    pub fn closed_minimum(&self) -> u32 {
        match self.window {
            WindowKind::Count => self.minimum_calls.min(self.window_size),
            WindowKind::Time => self.minimum_calls,
        }
    }

    /// The minimum in half-open, whose window holds `half_open_calls` calls.
    pub fn half_open_minimum(&self) -> u32 {
        self.minimum_calls.min(self.half_open_calls)
    }
}

/// Validates `upstreams.<name>.circuit_breaker` (`path` is that key path).
pub(super) fn validate(path: &str, raw: &RawCircuitBreaker, issues: &mut Issues) -> BreakerConfig {
    let w = raw.sliding_window;
    let max = match w.kind {
        WindowKind::Count => MAX_COUNT_WINDOW,
        WindowKind::Time => MAX_TIME_WINDOW,
    };
    if w.size == 0 || w.size > max {
        let unit = match w.kind {
            WindowKind::Count => "calls",
            WindowKind::Time => "seconds",
        };
        issues.push(
            format!("{path}.sliding_window.size"),
            format!("{} is out of range; use 1 to {max} {unit}", w.size),
        );
    }
    range(
        raw.minimum_calls,
        1,
        1_000_000,
        &format!("{path}.minimum_calls"),
        issues,
    );
    for (key, value) in [
        ("failure_rate_threshold", raw.failure_rate_threshold),
        ("slow_call_rate_threshold", raw.slow_call_rate_threshold),
    ] {
        if !(1..=100).contains(&value) {
            issues.push(
                format!("{path}.{key}"),
                format!("{value} is not a percentage; use 1 to 100"),
            );
        }
    }
    let slow = positive(
        raw.slow_call_duration.0,
        &format!("{path}.slow_call_duration"),
        issues,
    );
    let wait = raw.wait_in_open.0;
    if wait < Duration::from_millis(1) {
        issues.push(format!("{path}.wait_in_open"), "must be at least 1ms");
    }
    range(
        raw.half_open_calls,
        1,
        1_000,
        &format!("{path}.half_open_calls"),
        issues,
    );
    BreakerConfig {
        window: w.kind,
        window_size: w.size.clamp(1, max),
        minimum_calls: raw.minimum_calls.max(1),
        failure_rate_threshold: raw.failure_rate_threshold.clamp(1, 100),
        slow_call_duration: slow,
        slow_call_rate_threshold: raw.slow_call_rate_threshold.clamp(1, 100),
        wait_in_open: wait,
        half_open_calls: raw.half_open_calls.max(1),
        max_wait_in_half_open: Some(raw.max_wait_in_half_open.0).filter(|d| !d.is_zero()),
        record: OutcomeSet::new(&raw.record),
    }
}

fn range(value: u32, lo: u32, hi: u32, path: &str, issues: &mut Issues) {
    if !(lo..=hi).contains(&value) {
        issues.push(path, format!("{value} is out of range; use {lo} to {hi}"));
    }
}

fn hundred() -> u32 {
    100
}
fn fifty() -> u32 {
    50
}
fn ten() -> u32 {
    10
}
fn zero() -> Dur {
    Dur(Duration::ZERO)
}
fn slow_call_duration_default() -> Dur {
    Dur(Duration::from_secs(60))
}
fn wait_in_open_default() -> Dur {
    Dur(Duration::from_secs(30))
}
/// Connect errors, timeouts, resets and every 5xx except 501 (not implemented) and 505 (HTTP
/// version not supported): those two say the request is wrong, not that the backend is ill.
fn record_default() -> Vec<OutcomeItem> {
    vec![
        OutcomeItem::ConnectError,
        OutcomeItem::Timeout,
        OutcomeItem::Reset,
        OutcomeItem::Status(500, 500),
        OutcomeItem::Status(502, 504),
        OutcomeItem::Status(506, 599),
    ]
}

#[cfg(test)]
mod tests;
