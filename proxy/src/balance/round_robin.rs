//! Round robin: each backend in turn; weights are ignored (use `weighted` for those).

use super::{Balancer, PickContext};
use crate::backend::Backend;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Each backend in turn, lock-free; an ineligible backend's turn goes to the next eligible one.
#[derive(Debug, Default)]
pub struct RoundRobin {
    next: AtomicUsize,
}

impl Balancer for RoundRobin {
    fn pick(
        &self,
        backends: &[Arc<Backend>],
        eligible: &dyn Fn(usize) -> bool,
        _ctx: &PickContext<'_>,
    ) -> Option<usize> {
        let n = backends.len();
        if n == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        (0..n).map(|k| (start + k) % n).find(|&i| eligible(i))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{all, ctx, pool, shares};
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn one_pick_each_per_cycle_whatever_the_weights(weights in prop::collection::vec(1u32..=10, 1..=8), cycles in 1usize..4) {
            let p = pool(&weights);
            let rr = RoundRobin::default();
            let got = shares(&rr, &p, &all, p.len() * cycles);
            prop_assert!(got.iter().all(|&c| c == cycles), "{:?}", got);
        }
    }

    #[test]
    fn skips_an_ineligible_backend() {
        let p = pool(&[1, 1, 1]);
        let rr = RoundRobin::default();
        let picks: Vec<_> = (0..6)
            .map(|_| rr.pick(&p, &|i| i != 1, &ctx()).unwrap())
            .collect();
        assert_eq!(picks, [0, 2, 2, 0, 2, 2]);
    }
}
