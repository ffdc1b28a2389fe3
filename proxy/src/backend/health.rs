//! Backend health: the active probe's verdict and passive ejection after failures in a row.
//!
//! Passive ejection follows Envoy's outlier detection (consecutive errors):
//!
//! * every counted failure increments `consecutive_failures`, a success resets it;
//! * reaching `consecutive_failures` tries an ejection, and the counter restarts either way;
//! * the ejection happens only if `100 * (ejected + 1) <= max_ejection_percent * backends`,
//!   i.e. at most `floor(backends * percent / 100)` backends of the pool are out at once
//!   (Envoy's rule without `always_eject_one_host`: 50% of one backend ejects none);
//! * the n-th ejection in a row lasts `base_ejection * n`, capped at `max_ejection`; each
//!   `base_ejection` spent healthy since the last ejection ended lowers `n` by one (Envoy
//!   lowers it once per `interval`, which this proxy does not have);
//! * an ejection ends by time alone: [`Health::is_healthy`] compares with the clock.

use super::Backend;
use super::clock;
use crate::config::PassiveHealthConfig;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Serialises ejection decisions so two backends cannot both take the last allowed slot.
/// Taken only when a backend reaches its failure threshold.
static EJECTING: Mutex<()> = Mutex::new(());

/// Why a backend is not healthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unhealthy {
    /// The active health check fails.
    Active,
    /// Passive health ejected it.
    Passive,
    /// Both.
    Both,
}

impl Unhealthy {
    /// `active`, `passive` or `both`.
    pub fn as_str(self) -> &'static str {
        match self {
            Unhealthy::Active => "active",
            Unhealthy::Passive => "passive",
            Unhealthy::Both => "both",
        }
    }
}

/// A backend's health, lock-free to read on every pick.
#[derive(Debug)]
pub struct Health {
    /// The active health check's verdict; true until a check says otherwise.
    active_ok: AtomicBool,
    /// [`clock::now`] at which the current or last ejection ends; 0 if never ejected.
    ejected_until: AtomicU64,
    /// Ejections since the backend was configured.
    ejections: AtomicU64,
    /// Counted failures since the last success or ejection attempt.
    consecutive_failures: AtomicU32,
    /// Multiplier of `base_ejection` for the next ejection, minus one.
    backoff: AtomicU32,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            active_ok: AtomicBool::new(true),
            ejected_until: AtomicU64::new(0),
            ejections: AtomicU64::new(0),
            consecutive_failures: AtomicU32::new(0),
            backoff: AtomicU32::new(0),
        }
    }
}

impl Health {
    /// True when the backend may be picked at `now` ([`clock::now`] nanoseconds).
    pub fn is_healthy(&self, now: u64) -> bool {
        self.active_ok.load(Ordering::Relaxed) && !self.is_ejected(now)
    }

    /// True while a passive ejection lasts.
    pub fn is_ejected(&self, now: u64) -> bool {
        self.ejected_until.load(Ordering::Relaxed) > now
    }

    /// What makes the backend unhealthy at `now`, if anything.
    pub fn reason(&self, now: u64) -> Option<Unhealthy> {
        match (self.active_ok.load(Ordering::Relaxed), self.is_ejected(now)) {
            (true, false) => None,
            (false, false) => Some(Unhealthy::Active),
            (true, true) => Some(Unhealthy::Passive),
            (false, true) => Some(Unhealthy::Both),
        }
    }

    /// The active health check's verdict (true when there is no check).
    pub fn active_ok(&self) -> bool {
        self.active_ok.load(Ordering::Relaxed)
    }

    /// Sets the active health check's verdict.
    pub fn set_active(&self, ok: bool) {
        self.active_ok.store(ok, Ordering::Relaxed);
    }

    /// Passive ejections since the backend was configured.
    pub fn ejections(&self) -> u64 {
        self.ejections.load(Ordering::Relaxed)
    }

    /// Counted failures in a row so far.
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures.load(Ordering::Relaxed)
    }

    /// Time left in the current ejection at `now`, if ejected.
    pub fn ejected_for(&self, now: u64) -> Option<Duration> {
        let until = self.ejected_until.load(Ordering::Relaxed);
        (until > now).then(|| Duration::from_nanos(until - now))
    }

    /// Records a request's outcome for passive health at `now`; `pool` is every backend of
    /// the upstream (this one included). Returns the ejection time if this failure ejected it.
    pub fn record_outcome(
        &self,
        ok: bool,
        cfg: &PassiveHealthConfig,
        pool: &[Arc<Backend>],
        now: u64,
    ) -> Option<Duration> {
        if ok {
            self.consecutive_failures.store(0, Ordering::Relaxed);
            return None;
        }
        if self.is_ejected(now) {
            // A request picked before the ejection; it says nothing new.
            return None;
        }
        let failures = self.consecutive_failures.fetch_add(1, Ordering::AcqRel) + 1;
        if failures < cfg.consecutive_failures {
            return None;
        }
        let _one_at_a_time = EJECTING.lock().unwrap_or_else(|e| e.into_inner());
        if self.is_ejected(now) || self.consecutive_failures() < cfg.consecutive_failures {
            return None; // another thread just decided for this backend
        }
        self.consecutive_failures.store(0, Ordering::Relaxed);
        let ejected = pool.iter().filter(|b| b.health.is_ejected(now)).count();
        if !may_eject(ejected, pool.len(), cfg.max_ejection_percent) {
            tracing::debug!(
                ejected,
                pool = pool.len(),
                "passive health: ejection refused by max_ejection_percent"
            );
            return None;
        }
        let base = clock::nanos(cfg.base_ejection).max(1);
        let max = clock::nanos(cfg.max_ejection).max(base);
        let last_until = self.ejected_until.load(Ordering::Relaxed);
        let mut backoff = self.backoff.load(Ordering::Relaxed);
        if last_until != 0 {
            let healthy_periods = now.saturating_sub(last_until) / base;
            backoff = backoff.saturating_sub(u32::try_from(healthy_periods).unwrap_or(u32::MAX));
        }
        let duration = ejection_time(base, max, backoff);
        let cap = u32::try_from(max / base).unwrap_or(u32::MAX);
        self.backoff
            .store(backoff.saturating_add(1).min(cap), Ordering::Relaxed);
        self.ejected_until
            .store(now.saturating_add(duration), Ordering::Relaxed);
        self.ejections.fetch_add(1, Ordering::Relaxed);
        Some(Duration::from_nanos(duration))
    }
}

/// Envoy's rule: one more ejection is allowed while `100 * (ejected + 1) <= percent * pool`.
pub(crate) fn may_eject(ejected: usize, pool: usize, percent: u32) -> bool {
    (ejected as u64 + 1) * 100 <= pool as u64 * u64::from(percent)
}

/// `base * (backoff + 1)` nanoseconds, capped at `max`.
pub(crate) fn ejection_time(base: u64, max: u64, backoff: u32) -> u64 {
    base.saturating_mul(u64::from(backoff) + 1).min(max)
}

#[cfg(test)]
mod tests;
