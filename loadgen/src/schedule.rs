//! Open-loop timing: when the i-th request is due, for constant rates, linear ramps and steps.
//!
//! The cumulative request count `N(t)` is the integral of the rate; request `i` is due at the
//! `t` where `N(t) = i`. For a linear ramp from `r0` to `r1` over `d` seconds,
//! `N(τ) = r0·τ + (r1 − r0)·τ²/(2d)`, inverted in closed form.

use std::time::Duration;

use crate::spec::Stage;

/// A piecewise-linear arrival-rate schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq)]
struct Segment {
    /// Start offset in seconds.
    start: f64,
    /// Length in seconds.
    len: f64,
    /// Rate at the start and end.
    r0: f64,
    r1: f64,
    /// Cumulative (real-valued) count at the segment's start.
    first: f64,
}

impl Segment {
    fn count(&self) -> f64 {
        (self.r0 + self.r1) * self.len / 2.0
    }

    /// Seconds into the segment at which the cumulative in-segment count reaches `k`.
    fn offset_of(&self, k: f64) -> f64 {
        if k <= 0.0 {
            return 0.0;
        }
        let a = (self.r1 - self.r0) / (2.0 * self.len);
        let b = self.r0;
        // Stable root of a·τ² + b·τ − k = 0.
        let disc = (b * b + 4.0 * a * k).max(0.0);
        let tau = 2.0 * k / (b + disc.sqrt());
        tau.clamp(0.0, self.len)
    }

    fn count_until(&self, tau: f64) -> f64 {
        let tau = tau.clamp(0.0, self.len);
        self.r0 * tau + (self.r1 - self.r0) * tau * tau / (2.0 * self.len)
    }
}

impl Schedule {
    /// A constant `rate` (per second) for `duration`.
    pub fn constant(rate: f64, duration: Duration) -> Self {
        Self::from_stages(&[Stage {
            duration,
            rate,
            to_rate: None,
        }])
    }

    /// Consecutive stages; each is constant or a linear ramp.
    pub fn from_stages(stages: &[Stage]) -> Self {
        let mut segments = Vec::with_capacity(stages.len());
        let (mut start, mut first) = (0.0, 0.0);
        for stage in stages {
            let len = stage.duration.as_secs_f64();
            if len <= 0.0 {
                continue;
            }
            let r0 = stage.rate.max(0.0);
            let r1 = stage.to_rate.unwrap_or(stage.rate).max(0.0);
            let seg = Segment {
                start,
                len,
                r0,
                r1,
                first,
            };
            first += seg.count();
            start += len;
            segments.push(seg);
        }
        Self { segments }
    }

    /// Total length of the schedule.
    pub fn duration(&self) -> Duration {
        let secs = self.segments.last().map_or(0.0, |s| s.start + s.len);
        Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
    }

    /// Number of requests due before the end (requests `0..total()`).
    pub fn total(&self) -> u64 {
        let n = self.segments.last().map_or(0.0, |s| s.first + s.count());
        // Requests i = 0, 1, .. with i < N(end); tolerate float noise on whole numbers.
        (n - 1e-9).ceil().max(0.0) as u64
    }

    /// Offset from the start at which request `i` is due; `None` past the end.
    pub fn time_of(&self, i: u64) -> Option<Duration> {
        if i >= self.total() {
            return None;
        }
        let i = i as f64;
        let idx = self
            .segments
            .partition_point(|s| s.first + s.count() <= i)
            .min(self.segments.len() - 1);
        let seg = &self.segments[idx];
        let secs = seg.start + seg.offset_of(i - seg.first);
        Some(Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX))
    }

    /// Requests due in `[from, to)` seconds (real-valued; the target rate over that window).
    pub fn count_between(&self, from: f64, to: f64) -> f64 {
        self.count_at(to) - self.count_at(from)
    }

    /// Mean target rate over the whole schedule.
    pub fn mean_rate(&self) -> f64 {
        let secs = self.duration().as_secs_f64();
        if secs > 0.0 {
            self.count_at(secs) / secs
        } else {
            0.0
        }
    }

    /// Highest rate anywhere in the schedule.
    pub fn peak_rate(&self) -> f64 {
        self.segments
            .iter()
            .map(|s| s.r0.max(s.r1))
            .fold(0.0, f64::max)
    }

    fn count_at(&self, t: f64) -> f64 {
        self.segments
            .iter()
            .rev()
            .find(|s| s.start <= t)
            .map_or(0.0, |s| s.first + s.count_until(t - s.start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn stage(secs: f64, rate: f64, to: Option<f64>) -> Stage {
        Stage {
            duration: Duration::from_secs_f64(secs),
            rate,
            to_rate: to,
        }
    }

    #[test]
    fn constant_rate_is_evenly_spaced() {
        let s = Schedule::constant(2000.0, Duration::from_secs(3));
        assert_eq!(s.total(), 6000);
        assert_eq!(s.time_of(0), Some(Duration::ZERO));
        let t = s.time_of(1000).unwrap().as_secs_f64();
        assert!((t - 0.5).abs() < 1e-9, "{t}");
        assert_eq!(s.time_of(6000), None);
    }

    #[test]
    fn ramp_from_zero_puts_a_quarter_in_the_first_half() {
        let s = Schedule::from_stages(&[stage(10.0, 0.0, Some(100.0))]);
        assert_eq!(s.total(), 500);
        // N(5) = 100/10/2 * 25 = 125
        let t = s.time_of(125).unwrap().as_secs_f64();
        assert!((t - 5.0).abs() < 1e-6, "{t}");
        assert!((s.count_between(0.0, 5.0) - 125.0).abs() < 1e-9);
    }

    #[test]
    fn steps_follow_each_other() {
        let s = Schedule::from_stages(&[stage(1.0, 10.0, None), stage(1.0, 100.0, None)]);
        assert_eq!(s.total(), 110);
        let t = s.time_of(10).unwrap().as_secs_f64();
        assert!((t - 1.0).abs() < 1e-9, "{t}");
        let t = s.time_of(60).unwrap().as_secs_f64();
        assert!((t - 1.5).abs() < 1e-9, "{t}");
        assert!((s.mean_rate() - 55.0).abs() < 1e-9);
        assert_eq!(s.duration(), Duration::from_secs(2));
    }

    #[test]
    fn zero_rate_stage_is_a_pause() {
        let s = Schedule::from_stages(&[
            stage(1.0, 10.0, None),
            stage(1.0, 0.0, None),
            stage(1.0, 10.0, None),
        ]);
        assert_eq!(s.total(), 20);
        let t = s.time_of(10).unwrap().as_secs_f64();
        assert!((t - 2.0).abs() < 1e-9, "{t}");
    }

    proptest! {
        #[test]
        fn times_are_monotonic_and_inside(
            stages in proptest::collection::vec((0.1f64..5.0, 0.0f64..500.0, proptest::option::of(0.0f64..500.0)), 1..5)
        ) {
            let stages: Vec<Stage> = stages.into_iter().map(|(d, r, to)| stage(d, r, to)).collect();
            let s = Schedule::from_stages(&stages);
            let end = s.duration();
            let mut last = Duration::ZERO;
            for i in 0..s.total() {
                let t = s.time_of(i).unwrap();
                prop_assert!(t >= last, "i={} t={:?} last={:?}", i, t, last);
                prop_assert!(t <= end);
                last = t;
            }
            let expected: f64 = stages.iter()
                .map(|st| (st.rate + st.to_rate.unwrap_or(st.rate)) * st.duration.as_secs_f64() / 2.0)
                .sum();
            prop_assert!((s.total() as f64 - expected).abs() <= 1.0);
        }
    }
}
