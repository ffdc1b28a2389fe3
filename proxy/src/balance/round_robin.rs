//! Round robin: each backend in turn; weights are ignored (use `weighted` for those).

use super::{Balancer, PickContext};
use crate::backend::Backend;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Each backend in turn, lock-free. An ineligible backend's turn is skipped by taking the next
/// turn, so the remaining backends share its load evenly (not the one after it twice).
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
        for _ in 0..n {
            let i = self.next.fetch_add(1, Ordering::Relaxed) % n;
            if eligible(i) {
                return Some(i);
            }
        }
        // Concurrent picks took the eligible turns: any eligible backend will do.
        (0..n).find(|&i| eligible(i))
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

    proptest! {
        #[test]
        fn eligible_backends_share_evenly_whatever_is_out(mask in prop::collection::vec(any::<bool>(), 2..=8)) {
            prop_assume!(mask.iter().any(|&e| e));
            let p = pool(&vec![1; mask.len()]);
            let rr = RoundRobin::default();
            let eligible = |i: usize| mask[i];
            let up = mask.iter().filter(|&&e| e).count();
            let got = shares(&rr, &p, &eligible, up * 12);
            for (i, &c) in got.iter().enumerate() {
                prop_assert_eq!(c, if mask[i] { 12 } else { 0 }, "{:?} {:?}", mask, got);
            }
        }
    }

    #[test]
    fn skips_an_ineligible_backend() {
        let p = pool(&[1, 1, 1]);
        let rr = RoundRobin::default();
        let picks: Vec<_> = (0..6)
            .map(|_| rr.pick(&p, &|i| i != 1, &ctx()).unwrap())
            .collect();
        assert_eq!(
            picks,
            [0, 2, 0, 2, 0, 2],
            "the others share the skipped turns evenly"
        );
    }
}
