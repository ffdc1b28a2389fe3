//! Per-backend metrics read from the live runtime at scrape time, so the request path pays
//! nothing for them: `rampart_backend_healthy`, `rampart_backend_selections_total`,
//! `rampart_backend_ejections_total`, and the breakers' `rampart_circuit_breaker_state`,
//! `rampart_circuit_breaker_calls_total` and `rampart_circuit_breaker_transitions_total`.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use std::sync::{Arc, OnceLock};

/// One backend as the metrics see it.
#[derive(Debug, Clone)]
pub struct BackendSample {
    /// Upstream name.
    pub upstream: String,
    /// Backend address.
    pub backend: String,
    /// May be picked now.
    pub healthy: bool,
    /// Times a balancer chose it.
    pub selections: u64,
    /// Passive ejections so far.
    pub ejections: u64,
    /// The backend's circuit breaker, if it has one.
    pub breaker: Option<BreakerSample>,
}

/// A breaker as the metrics see it.
#[derive(Debug, Clone)]
pub struct BreakerSample {
    /// Current state name.
    pub state: &'static str,
    /// Every state name, in a fixed order (one gauge each, 1 for the current).
    pub states: &'static [&'static str],
    /// `(kind, count)` for `successful`, `failed`, `slow`, `not_permitted`.
    pub calls: [(&'static str, u64); 4],
    /// `(from, to, count)` of every transition seen.
    pub transitions: Vec<(&'static str, &'static str, u64)>,
}

/// Where the collector reads backends from (the server's current runtime).
pub trait BackendSource: Send + Sync + std::fmt::Debug {
    /// Every backend of every upstream, now.
    fn samples(&self) -> Vec<BackendSample>;
}

/// Labels of the per-backend metrics.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BackendLabels {
    upstream: String,
    backend: String,
}

/// The collector; empty until a source is attached.
#[derive(Debug, Default, Clone)]
pub(super) struct BackendCollector {
    pub(super) source: Arc<OnceLock<Box<dyn BackendSource>>>,
}

impl Collector for BackendCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let samples = self.source.get().map(|s| s.samples()).unwrap_or_default();
        let labels = |s: &BackendSample| BackendLabels {
            upstream: s.upstream.clone(),
            backend: s.backend.clone(),
        };
        let mut family = encoder.encode_descriptor(
            "backend_healthy",
            "1 while the backend may be picked (active check passing, not ejected), else 0",
            None,
            MetricType::Gauge,
        )?;
        for s in &samples {
            ConstGauge::new(i64::from(s.healthy)).encode(family.encode_family(&labels(s))?)?;
        }
        let mut family = encoder.encode_descriptor(
            "backend_selections",
            "Times a balancer chose the backend",
            None,
            MetricType::Counter,
        )?;
        for s in &samples {
            ConstCounter::new(s.selections).encode(family.encode_family(&labels(s))?)?;
        }
        let mut family = encoder.encode_descriptor(
            "backend_ejections",
            "Passive-health ejections of the backend",
            None,
            MetricType::Counter,
        )?;
        for s in &samples {
            ConstCounter::new(s.ejections).encode(family.encode_family(&labels(s))?)?;
        }
        encode_breakers(&samples, &mut encoder)
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    upstream: String,
    backend: String,
    state: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    upstream: String,
    backend: String,
    kind: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransitionLabels {
    upstream: String,
    backend: String,
    from: String,
    to: String,
}

/// The breaker families, as resilience4j-micrometer shapes them (a 0/1 gauge per state).
fn encode_breakers(
    samples: &[BackendSample],
    encoder: &mut DescriptorEncoder,
) -> Result<(), std::fmt::Error> {
    let with_breaker: Vec<(&BackendSample, &BreakerSample)> = samples
        .iter()
        .filter_map(|s| s.breaker.as_ref().map(|b| (s, b)))
        .collect();
    let mut family = encoder.encode_descriptor(
        "circuit_breaker_state",
        "1 for the breaker's current state, 0 for the others",
        None,
        MetricType::Gauge,
    )?;
    for (s, b) in &with_breaker {
        for state in b.states {
            let labels = StateLabels {
                upstream: s.upstream.clone(),
                backend: s.backend.clone(),
                state: (*state).to_owned(),
            };
            ConstGauge::new(i64::from(*state == b.state)).encode(family.encode_family(&labels)?)?;
        }
    }
    let mut family = encoder.encode_descriptor(
        "circuit_breaker_calls",
        "Calls seen by the breaker: successful, failed, slow (also counted as one of the first two), not_permitted",
        None,
        MetricType::Counter,
    )?;
    for (s, b) in &with_breaker {
        for (kind, n) in b.calls {
            let labels = CallLabels {
                upstream: s.upstream.clone(),
                backend: s.backend.clone(),
                kind: kind.to_owned(),
            };
            ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
        }
    }
    let mut family = encoder.encode_descriptor(
        "circuit_breaker_transitions",
        "Breaker state transitions",
        None,
        MetricType::Counter,
    )?;
    for (s, b) in &with_breaker {
        for (from, to, n) in &b.transitions {
            let labels = TransitionLabels {
                upstream: s.upstream.clone(),
                backend: s.backend.clone(),
                from: (*from).to_owned(),
                to: (*to).to_owned(),
            };
            ConstCounter::new(*n).encode(family.encode_family(&labels)?)?;
        }
    }
    Ok(())
}
