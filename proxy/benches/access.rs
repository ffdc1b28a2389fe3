//! Access checks on the request path: an IP-filter lookup in a short and a 10,000-CIDR list,
//! the XFF walk, and a rate-limit check (one hot key, and keys spread over 100,000; the hot key
//! also through `RouteLimiter`, as the request path calls it).
//!
//! `cargo bench -p proxy --bench access -- --warm-up-time 1 --measurement-time 2`
#![forbid(unsafe_code)]

use criterion::{Criterion, criterion_group, criterion_main};
use proxy::config::{RateKey, RateLimitConfig, RatePeriod};
use proxy::security::rate_limit::{GcraLimiter, Key, RateLimiter, RouteLimiter};
use proxy::security::{IpSet, client_ip};
use std::future::Future;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Waker};

/// `n` pseudo-random /24s (a fixed LCG, so every run looks up the same list).
fn cidrs(n: u32) -> Vec<ipnet::IpNet> {
    let mut x: u32 = 12345;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ipnet::IpNet::V4(ipnet::Ipv4Net::new(Ipv4Addr::from(x), 24).unwrap().trunc())
        })
        .collect()
}

fn filters(c: &mut Criterion) {
    for n in [10, 10_000] {
        let set = IpSet::new(&cidrs(n));
        let mut i: u32 = 0;
        c.bench_function(&format!("ip_filter/contains/{n} cidrs"), |b| {
            b.iter(|| {
                i = i.wrapping_add(2_654_435_761);
                black_box(set.contains(IpAddr::V4(Ipv4Addr::from(i))))
            })
        });
    }
    let trusted = IpSet::new(&["10.0.0.0/8".parse().unwrap()]);
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "x-forwarded-for",
        "198.51.100.1, 203.0.113.7, 10.1.2.3".parse().unwrap(),
    );
    let peer: IpAddr = "10.0.0.1".parse().unwrap();
    c.bench_function("client_ip/resolve/3 hops", |b| {
        b.iter(|| black_box(client_ip::resolve(&trusted, black_box(peer), &headers)))
    });
}

fn limiter(c: &mut Criterion) {
    let config = RateLimitConfig {
        rate: NonZeroU32::new(1_000_000).unwrap(),
        period: RatePeriod::Second,
        burst: NonZeroU32::new(1_000).unwrap(),
        key: RateKey::ClientIp,
        max_keys: 100_000,
        store: None,
    };
    let l = GcraLimiter::new(&config);
    let hot = Key::Ip(Ipv4Addr::new(192, 0, 2, 1).into());
    c.bench_function("rate_limit/check/one key", |b| {
        b.iter(|| black_box(l.check(hot)))
    });
    let mut i: u32 = 0;
    c.bench_function("rate_limit/check/100k keys", |b| {
        b.iter(|| {
            i = (i + 1) % 100_000;
            black_box(l.check(Key::Ip(IpAddr::V4(Ipv4Addr::from(i)))))
        })
    });
    c.bench_function("rate_limit/check/header key", |b| {
        b.iter(|| black_box(l.check(Key::Header(b"0123456789abcdef0123456789abcdef"))))
    });
    // The request path goes through `RouteLimiter` (an enum; `check` is async for the Redis
    // variant): the local variant's future is ready on its first poll, with no allocation.
    let route = RouteLimiter::Local(Arc::new(GcraLimiter::new(&config)));
    let metrics = proxy::observe::Metrics::new();
    let mut cx = Context::from_waker(Waker::noop());
    c.bench_function("rate_limit/route_limiter/local, one key", |b| {
        b.iter(|| {
            let fut = pin!(route.check(hot, &metrics));
            black_box(fut.poll(&mut cx))
        })
    });
}

criterion_group!(benches, filters, limiter);
criterion_main!(benches);
