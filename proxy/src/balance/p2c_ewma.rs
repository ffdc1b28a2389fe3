//! Power of two choices over peak-EWMA latency (linkerd, Finagle): two distinct random eligible
//! backends, the one with the lower `latency × (in flight + 1)` wins. Weights are ignored:
//! latency and load already steer traffic to the backends that keep up.

use super::{Balancer, PickContext, rng};
use crate::backend::{Backend, clock};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Random probes before counting the eligible backends (the common case needs one or two).
const PROBES: usize = 4;

/// Two random candidates, the cheaper wins; no shared state.
#[derive(Debug, Default, Clone, Copy)]
pub struct P2cEwma;

impl Balancer for P2cEwma {
    fn pick(
        &self,
        backends: &[Arc<Backend>],
        eligible: &dyn Fn(usize) -> bool,
        _ctx: &PickContext<'_>,
    ) -> Option<usize> {
        let (a, b) = match candidates(backends.len(), eligible)? {
            (a, None) => return Some(a),
            (a, Some(b)) => (a, b),
        };
        let now = clock::now();
        let cost = |i: usize| cost(&backends[i], now);
        Some(if cost(b) < cost(a) { b } else { a })
    }
}

/// What p2c compares: peak-EWMA latency × (in flight + 1). A backend never measured yet costs
/// nothing while it has no request in flight, so it is tried (one request at a time) instead
/// of being starved behind its pessimistic default estimate by backends already measured;
/// with a request in flight it costs the default (`ewma_default_rtt`) as usual.
fn cost(b: &Backend, now: u64) -> f64 {
    let in_flight = b.in_flight.load(Ordering::Relaxed);
    if !b.ewma.has_samples() && in_flight == 0 {
        return 0.0;
    }
    b.ewma.cost_at(now) * (in_flight as f64 + 1.0)
}

/// Two distinct eligible indices drawn uniformly, or one when only one is eligible.
fn candidates(n: usize, eligible: &dyn Fn(usize) -> bool) -> Option<(usize, Option<usize>)> {
    if n <= 1 {
        return (n == 1 && eligible(0)).then_some((0, None));
    }
    // Rejection sampling first: with most backends eligible it succeeds at once.
    if let Some(a) = (0..PROBES).map(|_| rng::below(n)).find(|&a| eligible(a)) {
        let other = |_| {
            let b = rng::below(n - 1);
            if b >= a { b + 1 } else { b }
        };
        if let Some(b) = (0..PROBES).map(other).find(|&b| eligible(b)) {
            return Some((a, Some(b)));
        }
    }
    // Few eligible: draw two distinct ranks among them.
    let m = (0..n).filter(|&i| eligible(i)).count();
    let nth = |rank: usize| (0..n).filter(|&i| eligible(i)).nth(rank);
    match m {
        0 => None,
        1 => nth(0).map(|a| (a, None)),
        _ => {
            let ra = rng::below(m);
            let rb = rng::below(m - 1);
            let rb = if rb >= ra { rb + 1 } else { rb };
            let a = nth(ra)?;
            Some((a, nth(rb)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{all, assert_binomial, ctx, pool, shares};
    use super::*;
    use std::time::Duration;

    #[test]
    fn equal_backends_share_evenly() {
        let p = pool(&[1, 1, 1, 1, 1]);
        let got = shares(&P2cEwma, &p, &all, 10_000);
        for &c in &got {
            assert_binomial(c, 10_000, 0.2);
        }
    }

    #[test]
    fn few_eligible_still_share_evenly() {
        let p = pool(&[1; 10]);
        let got = shares(&P2cEwma, &p, &|i| i == 2 || i == 7 || i == 9, 9_000);
        for (i, &c) in got.iter().enumerate() {
            if [2, 7, 9].contains(&i) {
                assert_binomial(c, 9_000, 1.0 / 3.0);
            } else {
                assert_eq!(c, 0);
            }
        }
    }

    #[test]
    fn the_slow_backend_loses_every_comparison() {
        let p = pool(&[1, 1, 1]);
        // One timestamp for all, so 1 and 2 cost exactly the same.
        let now = clock::now();
        p[0].ewma.observe_at(Duration::from_millis(500), now);
        p[1].ewma.observe_at(Duration::from_millis(1), now);
        p[2].ewma.observe_at(Duration::from_millis(1), now);
        let got = shares(&P2cEwma, &p, &all, 3_000);
        assert_eq!(got[0], 0, "it is in no pair it can win: {got:?}");
        // Backend 0 is a candidate in 2/3 of the pairs; 1 and 2 split the rest evenly.
        assert_binomial(got[1], 3_000, 0.5);
    }

    #[test]
    fn load_counts_as_well_as_latency() {
        let p = pool(&[1, 1]);
        p[0].in_flight.store(10, Ordering::Relaxed);
        let got = shares(&P2cEwma, &p, &all, 1_000);
        assert_eq!(got, [0, 1_000]);
    }

    #[test]
    fn an_unmeasured_backend_is_tried_not_starved() {
        let p = pool(&[1, 1, 1]);
        let now = clock::now();
        p[0].ewma.observe_at(Duration::from_millis(1), now);
        p[1].ewma.observe_at(Duration::from_millis(1), now);
        // Backend 2 has no sample: with nothing in flight it wins every pair it is in...
        let got = shares(&P2cEwma, &p, &all, 3_000);
        assert_binomial(got[2], 3_000, 2.0 / 3.0);
        // ...and with a request in flight it costs its default (30ms) and waits for the answer.
        p[2].in_flight.store(1, Ordering::Relaxed);
        let got = shares(&P2cEwma, &p, &all, 3_000);
        assert_eq!(got[2], 0, "{got:?}");
    }

    #[test]
    fn a_lone_eligible_backend_is_picked() {
        let p = pool(&[1, 1, 1]);
        assert_eq!(P2cEwma.pick(&p, &|i| i == 1, &ctx()), Some(1));
        assert_eq!(P2cEwma.pick(&p, &|_| false, &ctx()), None);
    }
}
