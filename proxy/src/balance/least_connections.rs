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
        // Pass one: the lowest load and how many share it.
        let load = |i: usize| backends[i].in_flight.load(Ordering::Relaxed);
        let (mut fewest, mut ties, mut first) = (usize::MAX, 0, None);
        for i in (0..backends.len()).filter(|&i| eligible(i)) {
            let l = load(i);
            if l < fewest {
                (fewest, ties, first) = (l, 1, Some(i));
            } else if l == fewest {
                ties += 1;
            }
        }
        let first = first?;
        if ties == 1 {
            return Some(first);
        }
        // Pass two: a random one of the tied (one random draw, not one per tie). Loads move
        // meanwhile; if the chosen rank is gone, the last tied one seen (or the first) wins.
        let mut rank = rng::below(ties);
        let mut last = first;
        for i in (0..backends.len()).filter(|&i| eligible(i) && load(i) == fewest) {
            if rank == 0 {
                return Some(i);
            }
            rank -= 1;
            last = i;
        }
        Some(last)
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
