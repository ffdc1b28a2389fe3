use super::*;
use crate::config::{BudgetConfig, FailureKind};
use http::HeaderValue;
use rand::SeedableRng;
use rand::rngs::SmallRng;

const MS: u64 = 1_000_000;

fn policy(f: impl FnOnce(&mut RetryConfig)) -> RetryPolicy {
    let mut cfg = RetryConfig::default();
    f(&mut cfg);
    RetryPolicy::new(cfg)
}

fn status(s: u16) -> Outcome {
    Outcome::Response {
        status: s,
        rtt: Duration::from_millis(1),
    }
}

fn failed(kind: FailureKind) -> Outcome {
    Outcome::Failed {
        kind,
        elapsed: Duration::from_millis(1),
    }
}

#[test]
fn only_idempotent_methods_or_the_opt_in_header_are_retried() {
    let p = policy(|c| c.opt_in_header = Some("idempotency-key".parse().unwrap()));
    let none = HeaderMap::new();
    let mut keyed = HeaderMap::new();
    keyed.insert("idempotency-key", HeaderValue::from_static("abc"));
    let reset = failed(FailureKind::Reset);
    for (method, headers, want) in [
        (Method::GET, &none, true),
        (Method::HEAD, &none, true),
        (Method::OPTIONS, &none, true),
        (Method::PUT, &none, true),
        (Method::DELETE, &none, true),
        (Method::TRACE, &none, true),
        (Method::POST, &none, false),
        (Method::PATCH, &none, false),
        (Method::CONNECT, &none, false),
        (Method::POST, &keyed, true),
        (Method::PATCH, &keyed, true),
    ] {
        assert_eq!(p.may_retry(&method, headers, 1, &reset), want, "{method}");
    }
    assert!(
        !policy(|_| {}).may_retry(&Method::POST, &keyed, 1, &reset),
        "no header configured"
    );
}

#[test]
fn attempts_count_the_first_try_and_on_lists_the_outcomes() {
    let p = policy(|c| c.attempts = 3);
    let get = Method::GET;
    let h = HeaderMap::new();
    let reset = failed(FailureKind::Reset);
    assert!(p.may_retry(&get, &h, 1, &reset) && p.may_retry(&get, &h, 2, &reset));
    assert!(!p.may_retry(&get, &h, 3, &reset), "3 tries made of 3");
    assert!(!policy(|c| c.attempts = 1).may_retry(&get, &h, 1, &reset));
    for (o, want) in [
        (failed(FailureKind::ConnectError), true),
        (failed(FailureKind::Timeout), true),
        (status(502), true),
        (status(503), true),
        (status(504), true),
        (status(500), false),
        (status(501), false),
        (status(429), false),
        (status(200), false),
    ] {
        assert_eq!(p.may_retry(&get, &h, 1, &o), want, "{o:?}");
    }
}

#[test]
fn only_known_small_bodies_are_replayable() {
    let p = policy(|_| {});
    assert!(p.body_is_replayable(Some(0)));
    assert!(p.body_is_replayable(Some(64 * 1024)));
    assert!(!p.body_is_replayable(Some(64 * 1024 + 1)));
    assert!(!p.body_is_replayable(None), "a stream is never read twice");
}

#[test]
fn backoff_is_full_jitter_under_a_doubling_cap() {
    let p = policy(|_| {});
    let mut rng = SmallRng::seed_from_u64(7);
    for (retry, cap_ms) in [
        (1, 25),
        (2, 50),
        (3, 100),
        (4, 200),
        (5, 250),
        (6, 250),
        (60, 250),
    ] {
        let waits: Vec<Duration> = (0..2000).map(|_| p.backoff(retry, &mut rng)).collect();
        let cap = Duration::from_millis(cap_ms);
        assert!(waits.iter().all(|w| *w <= cap), "retry {retry}");
        let max = *waits.iter().max().unwrap();
        let min = *waits.iter().min().unwrap();
        assert!(
            max > cap * 9 / 10 && min < cap / 10,
            "retry {retry}: spread {min:?}..{max:?}"
        );
    }
    let zero = policy(|c| {
        c.backoff_base = Duration::ZERO;
        c.backoff_max = Duration::ZERO;
    });
    assert_eq!(zero.backoff(3, &mut rng), Duration::ZERO);
}

/// 1,000 requests a second for `secs` seconds, all failing, each asking for one retry.
fn outage(budget: &RetryBudget, secs: u64) -> Vec<(u64, u64)> {
    let mut per_second = Vec::new();
    for s in 0..secs {
        let (mut requests, mut retries) = (0, 0);
        for i in 0..1000 {
            let now = s * 1000 * MS + i * MS + 1;
            budget.deposit(now);
            requests += 1;
            retries += u64::from(budget.try_withdraw(now));
        }
        per_second.push((requests, retries));
    }
    per_second
}

#[test]
fn the_budget_holds_under_a_total_outage() {
    let cfg = BudgetConfig {
        ratio: 0.2,
        min_per_second: 10,
    };
    let budget = RetryBudget::new(&cfg);
    let seconds = outage(&budget, 10);
    let requests: u64 = seconds.iter().map(|s| s.0).sum();
    let retries: u64 = seconds.iter().map(|s| s.1).sum();
    assert_eq!(requests, 10_000);
    assert!(
        retries <= 2_000 + 100,
        "{retries} retries for 10,000 requests"
    );
    assert!(
        retries >= 2_000,
        "the budget is spent, not hoarded: {retries}"
    );

    // Over a minute, every 10-second window stays within its allowance.
    let budget = RetryBudget::new(&cfg);
    let seconds = outage(&budget, 60);
    for w in seconds.windows(10) {
        let req: u64 = w.iter().map(|s| s.0).sum();
        let ret: u64 = w.iter().map(|s| s.1).sum();
        assert!(
            ret as f64 <= 0.2 * req as f64 + 100.0,
            "{ret} retries for {req} requests"
        );
    }
    let total: u64 = seconds.iter().map(|s| s.1).sum();
    assert!(total <= 12_000 + 600, "{total}");
}

#[test]
fn the_minimum_allows_retries_at_low_traffic_and_zero_means_none() {
    let budget = RetryBudget::new(&BudgetConfig {
        ratio: 0.2,
        min_per_second: 1,
    });
    let granted = (0..50).filter(|_| budget.try_withdraw(MS)).count();
    assert_eq!(granted, 10, "1/s over 10 s");
    assert_eq!(budget.usage(MS), (0, 10));
    assert_eq!(budget.usage(20_000 * MS), (0, 0), "forgotten after 10 s");
    let none = RetryBudget::new(&BudgetConfig {
        ratio: 0.0,
        min_per_second: 0,
    });
    none.deposit(MS);
    assert!(!none.try_withdraw(MS));
}

#[test]
fn concurrent_withdrawals_do_not_overdraw() {
    let budget = RetryBudget::new(&BudgetConfig {
        ratio: 0.0,
        min_per_second: 50,
    });
    let granted: usize = std::thread::scope(|s| {
        let hands: Vec<_> = (0..2)
            .map(|_| s.spawn(|| (0..2000).filter(|_| budget.try_withdraw(MS)).count()))
            .collect();
        hands.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(granted, 500);
}
