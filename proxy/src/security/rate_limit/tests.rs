use super::*;
use crate::config::{RateKey, RateLimitConfig, RatePeriod};
use governor::clock::FakeRelativeClock;
use std::num::NonZeroU32;
use std::sync::Arc;

fn config(per_second: u32, burst: u32, max_keys: usize) -> RateLimitConfig {
    RateLimitConfig {
        rate: NonZeroU32::new(per_second).unwrap(),
        period: RatePeriod::Second,
        burst: NonZeroU32::new(burst).unwrap(),
        key: RateKey::ClientIp,
        max_keys,
        store: None,
    }
}

fn limiter(
    per_second: u32,
    burst: u32,
    max_keys: usize,
) -> (GcraLimiter<FakeRelativeClock>, FakeRelativeClock) {
    let clock = FakeRelativeClock::default();
    (
        GcraLimiter::with_clock(&config(per_second, burst, max_keys), clock.clone()),
        clock,
    )
}

fn ip(n: u32) -> Key<'static> {
    Key::Ip(std::net::Ipv4Addr::from(n).into())
}

#[test]
fn a_full_bucket_admits_the_burst_then_one_per_interval() {
    let (l, clock) = limiter(10, 5, 100);
    for left in (0..5).rev() {
        let d = l.check(ip(1));
        assert!(d.allowed);
        assert_eq!((d.limit, d.remaining), (5, left));
        assert_eq!(d.reset, Duration::from_millis(100) * (5 - left));
    }
    let d = l.check(ip(1));
    assert!(!d.allowed);
    assert_eq!(d.remaining, 0);
    assert_eq!(d.retry_after, Duration::from_millis(100));
    assert_eq!(d.reset, Duration::from_millis(500));
    clock.advance(Duration::from_millis(100));
    assert!(l.check(ip(1)).allowed);
    assert!(!l.check(ip(1)).allowed);
}

#[test]
fn keys_are_limited_independently_and_absent_headers_share_one() {
    let (l, _clock) = limiter(1, 1, 100);
    assert!(l.check(ip(1)).allowed);
    assert!(!l.check(ip(1)).allowed);
    assert!(l.check(ip(2)).allowed);
    assert!(l.check(Key::Header(b"alice")).allowed);
    assert!(l.check(Key::Header(b"bob")).allowed);
    assert!(!l.check(Key::Header(b"alice")).allowed);
    assert!(l.check(Key::HeaderAbsent).allowed);
    assert!(!l.check(Key::HeaderAbsent).allowed);
    assert!(l.check(Key::Route).allowed);
    let mapped: std::net::IpAddr = "::ffff:0.0.0.2".parse().unwrap();
    assert!(
        !l.check(Key::Ip(mapped)).allowed,
        "mapped IPv6 is the IPv4 key"
    );
}

#[test]
fn refilled_keys_expire() {
    let (l, clock) = limiter(10, 10, 1000);
    for n in 0..500 {
        assert!(l.check(ip(n)).allowed);
    }
    assert_eq!(l.stored_keys(), 500);
    clock.advance(Duration::from_millis(50));
    l.store().sweep_all();
    assert_eq!(l.stored_keys(), 500, "not refilled yet");
    clock.advance(Duration::from_secs(2));
    // A request sweeps its own shard (at most once a second).
    assert!(l.check(ip(0)).allowed);
    assert!(l.stored_keys() < 500);
    l.store().sweep_all();
    assert_eq!(l.stored_keys(), 1, "only the key just used is left");
}

/// The 1,000,000-key flood: stored keys stay under the cap, and the keys that did not fit
/// share one overflow bucket instead of each getting a full one.
#[test]
fn a_million_distinct_keys_stay_within_the_cap() {
    let cap = 100_000;
    let (l, _clock) = limiter(10, 10, cap);
    let mut allowed = 0usize;
    for n in 0..1_000_000u32 {
        if l.check(ip(n)).allowed {
            allowed += 1;
        }
    }
    let stored = l.stored_keys();
    assert!(stored <= cap, "{stored} keys stored, cap {cap}");
    assert!(stored >= cap * 9 / 10, "shards fill evenly: {stored}");
    assert!(
        allowed <= stored + 10,
        "overflow keys share one bucket: {allowed} allowed"
    );
    let bytes = l.store().approx_bytes();
    let per_key = bytes as f64 / stored as f64;
    println!("{stored} keys in ~{bytes} bytes: {per_key:.1} bytes per key");
    assert!(per_key < 64.0, "{per_key} bytes per key");
}

#[test]
fn workers_share_one_limit() {
    let (l, _clock) = limiter(1, 100, 10);
    let l = Arc::new(l);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let l = Arc::clone(&l);
            std::thread::spawn(move || (0..1000).filter(|_| l.check(Key::Route).allowed).count())
        })
        .collect();
    let allowed: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(
        allowed, 100,
        "one bucket for the process, not one per thread"
    );
}

#[test]
fn headers_carry_whole_seconds_rounded_up() {
    let mut h = http::HeaderMap::new();
    add_headers(
        &mut h,
        &Decision {
            allowed: false,
            limit: 20,
            remaining: 0,
            reset: Duration::from_millis(1500),
            retry_after: Duration::from_millis(10),
        },
    );
    assert_eq!(h["retry-after"], "1");
    assert_eq!(h["ratelimit-limit"], "20");
    assert_eq!(h["ratelimit-remaining"], "0");
    assert_eq!(h["ratelimit-reset"], "2");
}
