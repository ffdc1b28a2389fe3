//! Peak-EWMA latency (Finagle, linkerd, tower): a slow sample counts at once, fast samples
//! and idle time bring the estimate down smoothly.

use super::clock;
use crate::config::EwmaConfig;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A lock-free peak-EWMA latency estimate, in nanoseconds.
///
/// * Before the first sample the estimate is the configured default (`ewma_default_rtt`), and
///   it does not decay; the first sample replaces it.
/// * A sample above the current estimate replaces it at once (the peak).
/// * A lower sample is blended in with weight `1 - exp(-elapsed/decay)`, where `elapsed` is the
///   time since the previous sample: the longer ago, the more the new sample counts.
/// * Between samples the estimate decays towards zero with the same weight, so a backend that
///   was slow and got no traffic since is tried again after a few `decay` periods.
///
/// Value and timestamp are two atomics; a racing reader may pair a new value with the old
/// timestamp, which shifts the decay by the width of the race and nothing else.
#[derive(Debug)]
pub struct PeakEwma {
    /// The estimate as `f64` bits.
    value: AtomicU64,
    /// [`clock::now`] of the last sample; 0 before the first.
    stamp: AtomicU64,
    /// Decay time constant, nanoseconds.
    decay: AtomicU64,
    /// Estimate before the first sample, nanoseconds.
    default: AtomicU64,
}

impl PeakEwma {
    /// An estimate with no samples yet.
    pub fn new(config: &EwmaConfig) -> Self {
        let ewma = Self {
            value: AtomicU64::new(0f64.to_bits()),
            stamp: AtomicU64::new(0),
            decay: AtomicU64::new(0),
            default: AtomicU64::new(0),
        };
        ewma.configure(config);
        ewma
    }

    /// Applies new settings (on reload) without forgetting the samples.
    pub fn configure(&self, config: &EwmaConfig) {
        self.decay
            .store(clock::nanos(config.decay).max(1), Ordering::Relaxed);
        self.default
            .store(clock::nanos(config.default_rtt), Ordering::Relaxed);
    }

    /// Records a latency sample taken now.
    pub fn observe(&self, rtt: Duration) {
        self.observe_at(rtt, clock::now());
    }

    /// Records a latency sample taken at `now` ([`clock::now`] nanoseconds).
    pub fn observe_at(&self, rtt: Duration, now: u64) {
        let sample = clock::nanos(rtt) as f64;
        let decay = self.decay.load(Ordering::Relaxed);
        let mut bits = self.value.load(Ordering::Acquire);
        loop {
            let stamp = self.stamp.load(Ordering::Acquire);
            let next = if stamp == 0 {
                sample
            } else {
                update(
                    f64::from_bits(bits),
                    now.saturating_sub(stamp),
                    sample,
                    decay,
                )
            };
            match self.value.compare_exchange_weak(
                bits,
                next.to_bits(),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    self.stamp.fetch_max(now, Ordering::AcqRel);
                    return;
                }
                Err(actual) => bits = actual,
            }
        }
    }

    /// The estimate now, in nanoseconds.
    pub fn cost(&self) -> f64 {
        self.cost_at(clock::now())
    }

    /// The estimate at `now` ([`clock::now`] nanoseconds), in nanoseconds.
    pub fn cost_at(&self, now: u64) -> f64 {
        let stamp = self.stamp.load(Ordering::Acquire);
        if stamp == 0 {
            return self.default.load(Ordering::Relaxed) as f64;
        }
        let value = f64::from_bits(self.value.load(Ordering::Acquire));
        decayed(
            value,
            now.saturating_sub(stamp),
            self.decay.load(Ordering::Relaxed),
        )
    }

    /// The estimate now, as a duration.
    pub fn estimate(&self) -> Duration {
        Duration::from_nanos(self.cost() as u64)
    }

    /// True once a sample was recorded.
    pub fn has_samples(&self) -> bool {
        self.stamp.load(Ordering::Acquire) != 0
    }
}

/// The weight `exp(-elapsed/decay)` the past keeps after `elapsed` nanoseconds.
fn weight(elapsed: u64, decay: u64) -> f64 {
    (-(elapsed as f64) / decay.max(1) as f64).exp()
}

/// An estimate `elapsed` nanoseconds after it was `value`, with no sample in between.
pub(crate) fn decayed(value: f64, elapsed: u64, decay: u64) -> f64 {
    value * weight(elapsed, decay)
}

/// The estimate after a `sample` taken `elapsed` nanoseconds after the previous one.
pub(crate) fn update(prev: f64, elapsed: u64, sample: f64, decay: u64) -> f64 {
    let w = weight(elapsed, decay);
    let current = prev * w;
    if sample >= current {
        sample
    } else {
        current + sample * (1.0 - w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: u64 = 1_000_000;
    const DECAY: u64 = 10_000 * MS;

    fn config() -> EwmaConfig {
        EwmaConfig {
            decay: Duration::from_nanos(DECAY),
            default_rtt: Duration::from_millis(30),
        }
    }

    #[test]
    fn starts_at_the_default_without_decaying() {
        let e = PeakEwma::new(&config());
        assert_eq!(e.cost_at(1), 30.0 * MS as f64);
        assert_eq!(e.cost_at(u64::MAX / 2), 30.0 * MS as f64);
        assert!(!e.has_samples());
    }

    #[test]
    fn first_sample_replaces_the_default() {
        let e = PeakEwma::new(&config());
        e.observe_at(Duration::from_millis(2), 100);
        assert_eq!(e.cost_at(100), 2.0 * MS as f64);
    }

    #[test]
    fn a_slow_sample_counts_at_once_and_fades_with_time() {
        let e = PeakEwma::new(&config());
        let t0 = 1_000;
        e.observe_at(Duration::from_millis(1), t0);
        e.observe_at(Duration::from_millis(500), t0 + MS);
        assert_eq!(e.cost_at(t0 + MS), 500.0 * MS as f64, "peak taken at once");
        // One decay period later the estimate is down to 1/e of the peak.
        let later = e.cost_at(t0 + MS + DECAY);
        assert!((later - 500.0 * MS as f64 / std::f64::consts::E).abs() < 1.0);
        // A fast sample then blends in: between the sample and the decayed peak.
        e.observe_at(Duration::from_millis(1), t0 + MS + DECAY);
        let blended = e.cost_at(t0 + MS + DECAY);
        assert!(blended < 500.0 * MS as f64 && blended > later, "{blended}");
    }

    #[test]
    fn a_fast_sample_right_after_a_slow_one_barely_moves_it() {
        let e = PeakEwma::new(&config());
        e.observe_at(Duration::from_millis(400), 10);
        e.observe_at(Duration::from_millis(1), 10 + MS);
        assert!(e.cost_at(10 + MS) > 399.0 * MS as f64);
    }

    proptest! {
        #[test]
        fn update_is_peak_or_between(prev in 0f64..1e12, sample in 0f64..1e12, elapsed in 0u64..10 * DECAY) {
            let next = update(prev, elapsed, sample, DECAY);
            let current = decayed(prev, elapsed, DECAY);
            if sample >= current {
                prop_assert_eq!(next, sample);
            } else {
                prop_assert!(next >= sample && next <= current + sample);
                prop_assert!(next <= prev.max(sample));
            }
        }

        #[test]
        fn decay_never_rises(value in 0f64..1e12, a in 0u64..u64::MAX / 2, b in 0u64..u64::MAX / 2) {
            let (early, late) = (a.min(b), a.max(b));
            prop_assert!(decayed(value, late, DECAY) <= decayed(value, early, DECAY));
        }
    }
}
