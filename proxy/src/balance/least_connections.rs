//! Least connections: the backend with the fewest requests in flight; weights are ignored.

use super::{Balancer, PickContext, rng};
use crate::backend::Backend;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The eligible backend with the fewest requests in flight, ties broken at random.
#[derive(Debug, Default, Clone, Copy)]
pub struct LeastConnections;

impl Balancer for LeastConnections {
    fn pick(
        &self,
        backends: &[Arc<Backend>],
        eligible: &dyn Fn(usize) -> bool,
        _ctx: &PickContext<'_>,
    ) -> Option<usize> {
        let mut best = None;
        let mut fewest = usize::MAX;
        let mut ties = 0;
        for (i, b) in backends.iter().enumerate() {
            if !eligible(i) {
                continue;
            }
            let load = b.in_flight.load(Ordering::Relaxed);
            if load < fewest {
                (best, fewest, ties) = (Some(i), load, 1);
            } else if load == fewest {
                // Reservoir sampling: each of the k tied backends ends up chosen with 1/k.
                ties += 1;
                if rng::below(ties) == 0 {
                    best = Some(i);
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_binomial, ctx, pool, shares};
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_picks_a_busier_backend_than_an_eligible_idler_one(
            loads in prop::collection::vec(0usize..5, 1..=8),
            mask in prop::collection::vec(any::<bool>(), 8),
        ) {
            let p = pool(&vec![1; loads.len()]);
            for (b, &l) in p.iter().zip(&loads) {
                b.in_flight.store(l, Ordering::Relaxed);
            }
            let eligible = |i: usize| mask[i];
            let fewest = (0..loads.len()).filter(|&i| mask[i]).map(|i| loads[i]).min();
            for _ in 0..20 {
                let got = LeastConnections.pick(&p, &eligible, &ctx());
                prop_assert_eq!(got.map(|i| loads[i]), fewest);
                if let Some(i) = got {
                    prop_assert!(mask[i]);
                }
            }
        }
    }

    #[test]
    fn ties_are_broken_at_random() {
        let p = pool(&[1, 1, 1]);
        p[1].in_flight.store(3, Ordering::Relaxed);
        let got = shares(&LeastConnections, &p, &|_| true, 10_000);
        assert_eq!(got[1], 0);
        assert_binomial(got[0], 10_000, 0.5);
    }
}
