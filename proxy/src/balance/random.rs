//! Random: a backend drawn with probability proportional to its weight.

use super::{Balancer, PickContext, rng};
use crate::backend::Backend;
use std::sync::Arc;

/// A random eligible backend, `weight / total eligible weight` likely each; no shared state.
#[derive(Debug, Default, Clone, Copy)]
pub struct Random;

impl Balancer for Random {
    fn pick(
        &self,
        backends: &[Arc<Backend>],
        eligible: &dyn Fn(usize) -> bool,
        _ctx: &PickContext<'_>,
    ) -> Option<usize> {
        weighted_random(backends, eligible)
    }
}

/// Draws one eligible backend with probability proportional to its weight.
pub(super) fn weighted_random(
    backends: &[Arc<Backend>],
    eligible: &dyn Fn(usize) -> bool,
) -> Option<usize> {
    let total: u64 = (0..backends.len())
        .filter(|&i| eligible(i))
        .map(|i| u64::from(backends[i].weight))
        .sum();
    if total == 0 {
        return None;
    }
    let mut r = rng::below_u64(total);
    let mut last = None;
    for (i, b) in backends.iter().enumerate() {
        if !eligible(i) {
            continue;
        }
        let w = u64::from(b.weight);
        if r < w {
            return Some(i);
        }
        r -= w;
        last = Some(i);
    }
    last // eligibility changed between the two passes
}

#[cfg(test)]
mod tests {
    use super::super::tests::{all, assert_binomial, pool, shares};
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn shares_follow_the_weights(weights in prop::collection::vec(1u32..=10, 1..=8)) {
            let p = pool(&weights);
            let picks = 10_000;
            let got = shares(&Random, &p, &all, picks);
            let total: u32 = weights.iter().sum();
            for (i, &w) in weights.iter().enumerate() {
                assert_binomial(got[i], picks, f64::from(w) / f64::from(total));
            }
        }
    }

    #[test]
    fn only_eligible_backends_share_the_picks() {
        let p = pool(&[1, 1, 1, 1]);
        let got = shares(&Random, &p, &|i| i % 2 == 0, 10_000);
        assert_eq!((got[1], got[3]), (0, 0));
        assert_binomial(got[0], 10_000, 0.5);
    }
}
