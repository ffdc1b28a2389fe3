use super::*;
use crate::config::{EwmaConfig, FailureKind};
use proptest::prelude::*;

const S: u64 = 1_000_000_000;

fn cfg(percent: u32) -> PassiveHealthConfig {
    PassiveHealthConfig {
        consecutive_failures: 3,
        base_ejection: Duration::from_secs(10),
        max_ejection: Duration::from_secs(35),
        max_ejection_percent: percent,
        on: vec![FailureKind::ConnectError],
    }
}

fn pool(n: usize) -> Vec<Arc<Backend>> {
    let ewma = EwmaConfig {
        decay: Duration::from_secs(10),
        default_rtt: Duration::from_millis(30),
    };
    (0..n)
        .map(|i| {
            let address = format!("127.0.0.1:{}", 9001 + i).parse().unwrap();
            Arc::new(Backend::new(address, 1, &ewma))
        })
        .collect()
}

/// Fails `b` the configured number of times at `now`; returns the last verdict.
fn fail_out(
    b: &Backend,
    cfg: &PassiveHealthConfig,
    pool: &[Arc<Backend>],
    now: u64,
) -> Option<Duration> {
    (0..cfg.consecutive_failures)
        .map(|_| b.health.record_outcome(false, cfg, pool, now))
        .last()
        .flatten()
}

#[test]
fn ejects_after_failures_in_a_row_and_returns_by_time() {
    let (p, c) = (pool(2), cfg(50));
    let h = &p[0].health;
    assert_eq!(h.record_outcome(false, &c, &p, S), None);
    assert_eq!(h.record_outcome(false, &c, &p, S), None);
    assert!(h.is_healthy(S));
    assert_eq!(
        h.record_outcome(false, &c, &p, S),
        Some(Duration::from_secs(10))
    );
    assert!(!h.is_healthy(S));
    assert_eq!(h.reason(S), Some(Unhealthy::Passive));
    assert_eq!(h.ejected_for(S), Some(Duration::from_secs(10)));
    assert!(!h.is_healthy(11 * S - 1));
    assert!(h.is_healthy(11 * S), "the ejection ends by time");
    assert_eq!(h.ejections(), 1);
}

#[test]
fn a_success_resets_the_count() {
    let (p, c) = (pool(2), cfg(50));
    let h = &p[0].health;
    for _ in 0..10 {
        h.record_outcome(false, &c, &p, S);
        h.record_outcome(false, &c, &p, S);
        h.record_outcome(true, &c, &p, S);
    }
    assert!(h.is_healthy(S));
    assert_eq!(h.consecutive_failures(), 0);
}

#[test]
fn max_ejection_percent_34_of_3_ejects_only_one() {
    let (p, c) = (pool(3), cfg(34));
    assert!(fail_out(&p[0], &c, &p, S).is_some());
    assert_eq!(fail_out(&p[1], &c, &p, S), None, "a second would be 67%");
    assert_eq!(fail_out(&p[2], &c, &p, S), None);
    let healthy = p.iter().filter(|b| b.health.is_healthy(S)).count();
    assert_eq!(healthy, 2);
    // Once the first is back, another may go.
    assert!(fail_out(&p[1], &c, &p, 20 * S).is_some());
}

#[test]
fn a_lone_backend_at_50_percent_is_never_ejected() {
    let (p, c) = (pool(1), cfg(50));
    assert_eq!(fail_out(&p[0], &c, &p, S), None);
    assert!(p[0].health.is_healthy(S));
}

#[test]
fn ejection_time_grows_with_each_ejection_up_to_the_cap() {
    let (p, c) = (pool(2), cfg(50));
    let b = &p[0];
    let mut now = S;
    let mut times = Vec::new();
    for _ in 0..5 {
        let d = fail_out(b, &c, &p, now).expect("ejected");
        times.push(d.as_secs());
        now += clock::nanos(d); // fails again the moment it is back
    }
    assert_eq!(times, [10, 20, 30, 35, 35]);
}

#[test]
fn time_spent_healthy_shortens_the_next_ejection() {
    let (p, c) = (pool(2), cfg(50));
    let b = &p[0];
    assert_eq!(fail_out(b, &c, &p, S).unwrap().as_secs(), 10);
    assert_eq!(fail_out(b, &c, &p, 11 * S).unwrap().as_secs(), 20);
    // Back at 31s; 10s healthy lowers the multiplier by one.
    assert_eq!(fail_out(b, &c, &p, 41 * S).unwrap().as_secs(), 20);
    // Back at 61s; a long healthy time starts over.
    assert_eq!(fail_out(b, &c, &p, 1_000 * S).unwrap().as_secs(), 10);
}

#[test]
fn failures_while_ejected_do_not_count() {
    let (p, c) = (pool(2), cfg(50));
    let h = &p[0].health;
    fail_out(&p[0], &c, &p, S).unwrap();
    for _ in 0..10 {
        assert_eq!(h.record_outcome(false, &c, &p, 2 * S), None);
    }
    assert_eq!(h.ejections(), 1);
    assert_eq!(h.consecutive_failures(), 0);
}

#[test]
fn reason_names_active_passive_or_both() {
    let (p, c) = (pool(2), cfg(50));
    let h = &p[0].health;
    assert_eq!(h.reason(S), None);
    h.set_active(false);
    assert_eq!(h.reason(S), Some(Unhealthy::Active));
    fail_out(&p[0], &c, &p, S).unwrap();
    assert_eq!(h.reason(S), Some(Unhealthy::Both));
    assert_eq!(h.reason(S).unwrap().as_str(), "both");
    h.set_active(true);
    assert_eq!(h.reason(S).map(Unhealthy::as_str), Some("passive"));
}

proptest! {
    #[test]
    fn at_most_floor_of_the_percentage_is_ejected(n in 1usize..=20, percent in 0u32..=100) {
        let (p, c) = (pool(n), cfg(percent));
        for b in &p {
            fail_out(b, &c, &p, S);
        }
        let ejected = p.iter().filter(|b| b.health.is_ejected(S)).count();
        prop_assert_eq!(ejected, n * percent as usize / 100);
    }

    #[test]
    fn may_eject_matches_the_floor(n in 1usize..1000, ejected in 0usize..1000, percent in 0u32..=100) {
        prop_assert_eq!(may_eject(ejected, n, percent), ejected < n * percent as usize / 100);
    }
}
