//! Per-proxy counters, updated lock-free on the forwarding path.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::Serialize;

use crate::spec::Stream;

/// Live counters of one fault proxy.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) accepted: AtomicU64,
    pub(crate) active: AtomicU64,
    pub(crate) upstream_errors: AtomicU64,
    pub(crate) bytes_upstream: AtomicU64,
    pub(crate) bytes_downstream: AtomicU64,
    pub(crate) closed_by_toxic: AtomicU64,
    pub(crate) reset_by_toxic: AtomicU64,
    pub(crate) http_answers: AtomicU64,
}

impl Counters {
    pub(crate) fn add_bytes(&self, stream: Stream, n: usize) {
        let counter = match stream {
            Stream::Upstream => &self.bytes_upstream,
            Stream::Downstream => &self.bytes_downstream,
        };
        counter.fetch_add(n as u64, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            connections_accepted: self.accepted.load(Relaxed),
            connections_active: self.active.load(Relaxed),
            upstream_connect_errors: self.upstream_errors.load(Relaxed),
            bytes_upstream: self.bytes_upstream.load(Relaxed),
            bytes_downstream: self.bytes_downstream.load(Relaxed),
            closed_by_toxic: self.closed_by_toxic.load(Relaxed),
            reset_by_toxic: self.reset_by_toxic.load(Relaxed),
            http_answers: self.http_answers.load(Relaxed),
        }
    }
}

/// A copy of a fault proxy's counters at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CounterSnapshot {
    /// Client connections accepted.
    pub connections_accepted: u64,
    /// Connections open now.
    pub connections_active: u64,
    /// Accepted connections closed because the upstream could not be reached.
    pub upstream_connect_errors: u64,
    /// Bytes read from clients.
    pub bytes_upstream: u64,
    /// Bytes read from the upstream.
    pub bytes_downstream: u64,
    /// Connections a toxic closed (limit_data, timeout, http_cut).
    pub closed_by_toxic: u64,
    /// Connections a toxic reset (reset_peer).
    pub reset_by_toxic: u64,
    /// Requests answered by `http_status` instead of the upstream.
    pub http_answers: u64,
}
