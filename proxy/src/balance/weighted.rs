//! Weighted: nginx's smooth weighted round robin; each backend `weight` times per cycle,
//! spread out rather than in bursts.

use super::{Balancer, PickContext};
use crate::backend::Backend;
use std::sync::{Arc, Mutex};

/// Smooth weighted round robin. The state is one number per backend behind a short lock
/// (never held across an await). Ineligible backends sit out the round: they neither gain
/// nor lose credit.
#[derive(Debug, Default)]
pub struct Weighted {
    current: Mutex<Vec<i64>>,
}

impl Balancer for Weighted {
    fn pick(
        &self,
        backends: &[Arc<Backend>],
        eligible: &dyn Fn(usize) -> bool,
        _ctx: &PickContext<'_>,
    ) -> Option<usize> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        current.resize(backends.len(), 0);
        let mut total = 0;
        let mut best: Option<usize> = None;
        for (i, b) in backends.iter().enumerate() {
            if !eligible(i) {
                continue;
            }
            let w = i64::from(b.weight);
            current[i] += w;
            total += w;
            if best.is_none_or(|j| current[i] > current[j]) {
                best = Some(i);
            }
        }
        let chosen = best?;
        current[chosen] -= total;
        Some(chosen)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{all, ctx, pool, shares};
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn each_backend_weight_times_per_cycle(weights in prop::collection::vec(1u32..=10, 1..=8), cycles in 1usize..4) {
            let p = pool(&weights);
            let total: u32 = weights.iter().sum();
            let got = shares(&Weighted::default(), &p, &all, total as usize * cycles);
            for (i, &w) in weights.iter().enumerate() {
                prop_assert_eq!(got[i], w as usize * cycles);
            }
        }

        #[test]
        fn exact_over_the_eligible_ones(weights in prop::collection::vec(1u32..=10, 2..=8), out in 0usize..8) {
            let p = pool(&weights);
            let out = out % weights.len();
            let total: u32 = weights.iter().enumerate().filter(|&(i, _)| i != out).map(|(_, w)| w).sum();
            let got = shares(&Weighted::default(), &p, &|i| i != out, total as usize);
            for (i, &w) in weights.iter().enumerate() {
                prop_assert_eq!(got[i], if i == out { 0 } else { w as usize });
            }
        }
    }

    #[test]
    fn the_sequence_is_smooth() {
        let p = pool(&[5, 1, 1]);
        let w = Weighted::default();
        let picks: Vec<_> = (0..7)
            .map(|_| w.pick(&p, &|_| true, &ctx()).unwrap())
            .collect();
        assert_eq!(
            picks,
            [0, 0, 1, 0, 2, 0, 0],
            "nginx's example: a a b a c a a"
        );
    }
}
