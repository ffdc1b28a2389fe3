//! Per-request pieces of the handler: a route lookup over 3 and 100 routes, and the request
//! head rewrite (hop-by-hop strip, X-Forwarded-*, Via, Host, request id) of a browser-like head.
//!
//! `cargo bench -p proxy --bench request -- --warm-up-time 1 --measurement-time 2`
#![forbid(unsafe_code)]

use criterion::{Criterion, criterion_group, criterion_main};
use http::uri::Authority;
use proxy::config::{self, Config};
use proxy::forward::headers::ClientSide;
use proxy::forward::prepare::{self, Target};
use proxy::route::RouteTable;
use std::fmt::Write;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

/// A config with `n` routes: exact hosts, `*.suffix` hosts and path prefixes, mixed.
fn config(n: usize) -> Config {
    let mut routes = String::new();
    for i in 0..n {
        let host = match i % 3 {
            0 => format!("host: \"h{i}.example.test\", "),
            1 => format!("host: \"*.s{i}.example.test\", "),
            _ => String::new(),
        };
        let _ = writeln!(
            routes,
            "  - {{ name: r{i}, match: {{ {host}path_prefix: /p{i} }}, upstream: api }}"
        );
    }
    config::from_yaml_str(&format!(
        r#"
listeners: [{{ name: http, bind: "127.0.0.1:0" }}]
upstreams: {{ api: {{ backends: [{{ address: "127.0.0.1:9001" }}] }} }}
routes:
{routes}  - {{ name: default, upstream: api }}
"#
    ))
    .unwrap()
}

fn routing(c: &mut Criterion) {
    for n in [3, 100] {
        let table = RouteTable::new(&config(n).routes);
        let last = n - 1;
        let (host, path) = (
            format!("h{last}.example.test:8080"),
            format!("/p{last}/x/y"),
        );
        c.bench_function(&format!("route/find/{n} routes, last match"), |b| {
            b.iter(|| black_box(table.find(black_box(Some(&host)), black_box(&path))))
        });
        c.bench_function(&format!("route/find/{n} routes, default"), |b| {
            b.iter(|| black_box(table.find(black_box(Some("other.test")), black_box("/zzz"))))
        });
    }
}

/// A browser-like request head as hyper hands it over.
fn request() -> http::request::Parts {
    let (parts, ()) = http::Request::get("/api/items?page=2")
        .header("host", "api.example.test")
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
        )
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .header("accept-language", "en-GB,en;q=0.5")
        .header("accept-encoding", "gzip, deflate, br")
        .header("connection", "keep-alive")
        .header("cookie", "a=1")
        .header("cookie", "b=2")
        .header("x-forwarded-for", "198.51.100.7")
        .body(())
        .unwrap()
        .into_parts();
    parts
}

fn rewrite(c: &mut Criterion) {
    let cfg = config(1);
    let backend = Authority::from_static("127.0.0.1:9001");
    let template = request();
    let client = ClientSide {
        ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)),
        client_ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)),
        proto: "http",
        host: Some("api.example.test"),
        version: http::Version::HTTP_11,
        strip: &[],
        subject: None,
    };
    c.bench_function("headers/upstream_request/browser head", |b| {
        b.iter_batched(
            || {
                let mut p = http::Request::new(()).into_parts().0;
                p.method = template.method.clone();
                p.uri = template.uri.clone();
                p.headers = template.headers.clone();
                p
            },
            |mut parts| {
                let target = Target {
                    backend: &backend,
                    path_and_query: "/items?page=2",
                    host: Some("api.example.test"),
                    request_id: "2b1f3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
                    upgrade: false,
                };
                prepare::upstream_request(&mut parts, &target, &client, &cfg.headers).unwrap();
                parts
            },
            criterion::BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, routing, rewrite);
criterion_main!(benches);
