//! A retry budget in the style of linkerd's and Finagle's: over the last 10 seconds, retries
//! may not exceed `ratio` × original requests plus `min_per_second` × 10.
//!
//! Requests and retries are counted in ten per-second buckets each, every bucket one
//! `AtomicU64` holding its second (24 bits) and its count (40 bits), so depositing is one
//! compare-and-swap and no lock is taken. A withdrawal checks the sum and claims its slot with
//! one compare-and-swap on the current second's bucket, so concurrent withdrawals cannot
//! overdraw it within a second.

use crate::config::BudgetConfig;
use std::sync::atomic::{AtomicU64, Ordering};

/// Seconds the budget looks back.
const WINDOW_SECS: u64 = 10;
const NANOS_PER_SEC: u64 = 1_000_000_000;
const COUNT_BITS: u32 = 40;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;
const STAMP_MASK: u64 = (1 << (64 - COUNT_BITS)) - 1;

/// The shared retry allowance of one upstream.
#[derive(Debug)]
pub struct RetryBudget {
    ratio: f64,
    reserve: u64,
    requests: [AtomicU64; WINDOW_SECS as usize],
    retries: [AtomicU64; WINDOW_SECS as usize],
}

impl RetryBudget {
    /// An empty budget with these settings.
    pub fn new(cfg: &BudgetConfig) -> Self {
        Self {
            ratio: cfg.ratio,
            reserve: u64::from(cfg.min_per_second) * WINDOW_SECS,
            requests: Default::default(),
            retries: Default::default(),
        }
    }

    /// Counts one original request (not a retry) at `now` (clock nanoseconds).
    pub fn deposit(&self, now: u64) {
        let second = now / NANOS_PER_SEC;
        let cell = &self.requests[slot(second)];
        let _ = cell.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
            Some(pack(second, count_at(v, second) + 1))
        });
    }

    /// Takes one retry from the budget at `now`; false when the budget is spent.
    pub fn try_withdraw(&self, now: u64) -> bool {
        let second = now / NANOS_PER_SEC;
        let idx = slot(second);
        let allowed = self.allowed(second);
        let others: u64 = (0..self.retries.len())
            .filter(|&i| i != idx)
            .map(|i| in_window(self.retries[i].load(Ordering::Acquire), second))
            .sum();
        self.retries[idx]
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                let mine = count_at(v, second);
                (others + mine < allowed).then(|| pack(second, mine + 1))
            })
            .is_ok()
    }

    /// Original requests and retries counted in the window ending at `now`.
    pub fn usage(&self, now: u64) -> (u64, u64) {
        let second = now / NANOS_PER_SEC;
        (sum(&self.requests, second), sum(&self.retries, second))
    }

    fn allowed(&self, second: u64) -> u64 {
        let requests = sum(&self.requests, second) as f64;
        (self.ratio * requests) as u64 + self.reserve
    }
}

fn slot(second: u64) -> usize {
    (second % WINDOW_SECS) as usize
}

fn pack(second: u64, count: u64) -> u64 {
    (second & STAMP_MASK) << COUNT_BITS | count.min(COUNT_MASK)
}

/// The count of a cell if it belongs to `second`, else 0 (a new second starts from zero).
fn count_at(v: u64, second: u64) -> u64 {
    if v >> COUNT_BITS == second & STAMP_MASK {
        v & COUNT_MASK
    } else {
        0
    }
}

/// The count of a cell if its second lies in the window ending at `second`.
fn in_window(v: u64, second: u64) -> u64 {
    let age = (second & STAMP_MASK).wrapping_sub(v >> COUNT_BITS) & STAMP_MASK;
    if age < WINDOW_SECS { v & COUNT_MASK } else { 0 }
}

fn sum(cells: &[AtomicU64], second: u64) -> u64 {
    cells
        .iter()
        .map(|c| in_window(c.load(Ordering::Acquire), second))
        .sum()
}
