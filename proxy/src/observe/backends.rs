//! Per-backend metrics read from the live runtime at scrape time, so the request path pays
//! nothing for them: `rampart_backend_healthy`, `rampart_backend_selections_total`,
//! `rampart_backend_ejections_total`.

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
        Ok(())
    }
}
