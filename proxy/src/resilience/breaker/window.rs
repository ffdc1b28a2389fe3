//! The sliding windows a breaker computes its rates over: the last N calls (a ring) or the
//! calls of the last N seconds (per-second buckets), as Resilience4j's
//! `FixedSizeSlidingWindowMetrics` and `SlidingTimeWindowMetrics`.

/// Calls in a window and how many of them failed or were slow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Calls recorded.
    pub calls: u32,
    /// Of those, failed.
    pub failed: u32,
    /// Of those, slow (failed or not).
    pub slow: u32,
}

impl Tally {
    fn add(&mut self, failed: bool, slow: bool) {
        self.calls += 1;
        self.failed += u32::from(failed);
        self.slow += u32::from(slow);
    }

    fn sub(&mut self, other: Tally) {
        self.calls -= other.calls;
        self.failed -= other.failed;
        self.slow -= other.slow;
    }

    /// Failed calls in percent, or `None` while fewer than `minimum` calls are in the window
    /// (Resilience4j reports -1 then).
    pub fn failure_rate(&self, minimum: u32) -> Option<f32> {
        self.rate(self.failed, minimum)
    }

    /// Slow calls in percent, or `None` below the minimum.
    pub fn slow_call_rate(&self, minimum: u32) -> Option<f32> {
        self.rate(self.slow, minimum)
    }

    fn rate(&self, part: u32, minimum: u32) -> Option<f32> {
        (self.calls > 0 && self.calls >= minimum).then(|| part as f32 * 100.0 / self.calls as f32)
    }

    /// True when at least `minimum` calls are in and either rate reaches its threshold
    /// (compared in integers: `part * 100 >= threshold * calls`).
    pub(super) fn exceeds(&self, minimum: u32, failure_pct: u32, slow_pct: u32) -> bool {
        let over =
            |part: u32, pct: u32| u64::from(part) * 100 >= u64::from(pct) * u64::from(self.calls);
        self.calls > 0
            && self.calls >= minimum
            && (over(self.failed, failure_pct) || over(self.slow, slow_pct))
    }
}

/// A count or time window.
#[derive(Debug)]
pub(super) enum Window {
    /// The last `ring.len()` calls.
    Count(CountWindow),
    /// The last `buckets.len()` seconds.
    Time(TimeWindow),
}

impl Window {
    /// A window of the last `size` calls; size 0 records nothing.
    pub(super) fn count(size: u32) -> Self {
        Window::Count(CountWindow {
            ring: vec![0; size as usize],
            next: 0,
            filled: 0,
            tally: Tally::default(),
        })
    }

    /// A window of the last `seconds` seconds.
    pub(super) fn time(seconds: u32) -> Self {
        Window::Time(TimeWindow {
            buckets: vec![Bucket::default(); seconds.max(1) as usize],
            latest: 0,
            tally: Tally::default(),
        })
    }

    /// Records one call at `now` (nanoseconds) and returns the window's tally.
    pub(super) fn record(&mut self, now: u64, failed: bool, slow: bool) -> Tally {
        match self {
            Window::Count(w) => w.record(failed, slow),
            Window::Time(w) => w.record(now / NANOS_PER_SEC, failed, slow),
        }
    }

    /// The tally at `now`, after forgetting what has left a time window.
    pub(super) fn tally(&mut self, now: u64) -> Tally {
        match self {
            Window::Count(w) => w.tally,
            Window::Time(w) => {
                w.advance(now / NANOS_PER_SEC);
                w.tally
            }
        }
    }
}

const NANOS_PER_SEC: u64 = 1_000_000_000;
const FAILED: u8 = 1;
const SLOW: u8 = 2;

/// A ring of the last N outcomes, two bits each.
#[derive(Debug)]
pub(super) struct CountWindow {
    ring: Vec<u8>,
    next: usize,
    filled: usize,
    tally: Tally,
}

impl CountWindow {
    fn record(&mut self, failed: bool, slow: bool) -> Tally {
        if self.ring.is_empty() {
            return self.tally;
        }
        if self.filled == self.ring.len() {
            let old = self.ring[self.next];
            self.tally.sub(Tally {
                calls: 1,
                failed: u32::from(old & FAILED != 0),
                slow: u32::from(old & SLOW != 0),
            });
        } else {
            self.filled += 1;
        }
        self.ring[self.next] = if failed { FAILED } else { 0 } | if slow { SLOW } else { 0 };
        self.next = (self.next + 1) % self.ring.len();
        self.tally.add(failed, slow);
        self.tally
    }
}

/// One second of a time window.
#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    second: u64,
    tally: Tally,
}

/// Per-second buckets of the last N seconds: the current second and the N-1 before it.
#[derive(Debug)]
pub(super) struct TimeWindow {
    buckets: Vec<Bucket>,
    /// The newest second seen.
    latest: u64,
    tally: Tally,
}

impl TimeWindow {
    fn record(&mut self, second: u64, failed: bool, slow: bool) -> Tally {
        self.advance(second);
        let n = self.buckets.len() as u64;
        // A call stamped before the newest second (threads race to the lock) still counts
        // while its second is in the window.
        if second + n > self.latest {
            let bucket = &mut self.buckets[(second % n) as usize];
            if bucket.second == second {
                bucket.tally.add(failed, slow);
                self.tally.add(failed, slow);
            }
        }
        self.tally
    }

    /// Moves the window so that it ends at `second`, emptying the buckets it leaves behind.
    fn advance(&mut self, second: u64) {
        if second <= self.latest && self.latest != 0 {
            return;
        }
        let n = self.buckets.len() as u64;
        let from = if self.latest == 0 || second - self.latest >= n {
            second + 1 - n.min(second + 1)
        } else {
            self.latest + 1
        };
        for s in from..=second {
            let bucket = &mut self.buckets[(s % n) as usize];
            if bucket.second != s {
                self.tally.sub(bucket.tally);
                *bucket = Bucket {
                    second: s,
                    tally: Tally::default(),
                };
            }
        }
        self.latest = second;
    }
}
