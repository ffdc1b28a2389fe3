//! A fast per-thread random number generator for picks (not for anything secret).

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::cell::RefCell;

thread_local! {
    static RNG: RefCell<SmallRng> = RefCell::new(SmallRng::from_os_rng());
}

/// A uniform number in `0..n`; `n` must be positive.
pub(super) fn below(n: usize) -> usize {
    RNG.with(|r| r.borrow_mut().random_range(0..n))
}

/// A uniform number in `0..n`; `n` must be positive.
pub(super) fn below_u64(n: u64) -> u64 {
    RNG.with(|r| r.borrow_mut().random_range(0..n))
}
