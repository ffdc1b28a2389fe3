//! The suites shipped in `scenarios/suites/`, embedded so the binary runs from any directory.

/// `(name, YAML)` of every bundled suite, in run order.
pub const BUNDLED: [(&str, &str); 16] = [
    ("basic", include_str!("../../suites/basic.yaml")),
    ("round-robin", include_str!("../../suites/round-robin.yaml")),
    (
        "load-balancing",
        include_str!("../../suites/load-balancing.yaml"),
    ),
    (
        "backend-faults",
        include_str!("../../suites/backend-faults.yaml"),
    ),
    ("breaker", include_str!("../../suites/breaker.yaml")),
    ("hot-reload", include_str!("../../suites/hot-reload.yaml")),
    ("tls", include_str!("../../suites/tls.yaml")),
    ("ip-filter", include_str!("../../suites/ip-filter.yaml")),
    ("rate-limit", include_str!("../../suites/rate-limit.yaml")),
    (
        "global-rate-limit",
        include_str!("../../suites/global-rate-limit.yaml"),
    ),
    (
        "request-validation",
        include_str!("../../suites/request-validation.yaml"),
    ),
    ("websocket", include_str!("../../suites/websocket.yaml")),
    ("sse", include_str!("../../suites/sse.yaml")),
    ("chaos", include_str!("../../suites/chaos.yaml")),
    ("readiness", include_str!("../../suites/readiness.yaml")),
    ("performance", include_str!("../../suites/performance.yaml")),
];

/// The YAML of a bundled suite.
pub fn bundled(name: &str) -> Option<&'static str> {
    BUNDLED.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}
