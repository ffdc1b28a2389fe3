//! A route's request metrics, looked up once: the handles of `rampart_requests` (per status)
//! and `rampart_request_duration_seconds` are cached in the compiled runtime, so a finished
//! request counts itself with a few atomic adds instead of two labelled look-ups (each a read
//! lock, a label clone and a hash).

use super::Metrics;
use super::metrics::{RequestLabels, RouteLabels};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use std::sync::OnceLock;

/// Statuses 100 to 599 have a cached counter; any other is looked up each time.
const FIRST_STATUS: u16 = 100;
const STATUSES: usize = 500;

/// One route's metric handles, filled on first use (they stay the family's own: a family
/// never drops an entry, so the cached handle and the exported series are the same one).
#[derive(Debug)]
pub struct RouteMetrics {
    /// The route's name, as the labels and the access log give it.
    pub name: String,
    duration: OnceLock<Histogram>,
    by_status: Box<[OnceLock<Counter>]>,
}

impl RouteMetrics {
    /// Empty handles for the route `name`.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            duration: OnceLock::new(),
            by_status: (0..STATUSES).map(|_| OnceLock::new()).collect(),
        }
    }

    /// Counts one finished request with `status` that took `seconds`.
    pub fn observe(&self, metrics: &Metrics, status: u16, seconds: f64) {
        let slot = usize::from(status.wrapping_sub(FIRST_STATUS));
        match self.by_status.get(slot) {
            Some(cell) => cell
                .get_or_init(|| {
                    let labels = RequestLabels {
                        route: self.name.clone(),
                        status,
                    };
                    metrics.requests.get_or_create(&labels).clone()
                })
                .inc(),
            None => count(metrics, &self.name, status),
        };
        self.duration
            .get_or_init(|| {
                let labels = RouteLabels {
                    route: self.name.clone(),
                };
                metrics.duration.get_or_create(&labels).clone()
            })
            .observe(seconds);
    }
}

/// Counts one request by labelled look-up (a request no route matched, an odd status).
pub(super) fn count(metrics: &Metrics, route: &str, status: u16) -> u64 {
    let labels = RequestLabels {
        route: route.to_owned(),
        status,
    };
    metrics.requests.get_or_create(&labels).inc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_handles_count_in_the_exported_series() {
        let metrics = Metrics::new();
        let route = RouteMetrics::new("api");
        route.observe(&metrics, 200, 0.002);
        route.observe(&metrics, 200, 0.002);
        route.observe(&metrics, 503, 0.5);
        route.observe(&metrics, 42, 0.1);
        let text = metrics.encode();
        assert!(
            text.contains(r#"rampart_requests_total{route="api",status="200"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"rampart_requests_total{route="api",status="503"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"rampart_requests_total{route="api",status="42"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"rampart_request_duration_seconds_count{route="api"} 4"#),
            "{text}"
        );
        // A second handle set for the same route (a reload) adds to the same series.
        RouteMetrics::new("api").observe(&metrics, 200, 0.002);
        assert!(
            metrics
                .encode()
                .contains(r#"rampart_requests_total{route="api",status="200"} 3"#)
        );
    }
}
