//! One backend's live state: request counters, peak-EWMA latency and health.
//!
//! This is the bottom of the load-balancing stack: it depends only on `config`. Strategies
//! (`balance`) read it, upstream pools (`upstream`) own it, the request path updates it.

pub mod clock;
mod ewma;
mod health;
mod slots;

pub use ewma::PeakEwma;
pub use health::{Health, Unhealthy};
pub use slots::{QueueTimeout, Slot, Slots};

use crate::config::{EwmaConfig, FailureKind};
use http::uri::Authority;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// One backend and its live state.
#[derive(Debug)]
pub struct Backend {
    /// `host:port`.
    pub address: Authority,
    /// Relative weight (at least 1).
    pub weight: u32,
    /// Requests currently in flight to this backend.
    pub in_flight: AtomicUsize,
    /// Requests sent to this backend since it was configured.
    pub requests: AtomicU64,
    /// Failed requests (connect errors, timeouts, resets).
    pub failures: AtomicU64,
    /// Times a balancer chose this backend.
    pub selections: AtomicU64,
    /// Peak-EWMA latency estimate.
    pub ewma: PeakEwma,
    /// Active and passive health.
    pub health: Health,
    /// WebSockets open to this backend.
    pub websockets: AtomicUsize,
    /// SSE streams open from this backend.
    pub sse_streams: AtomicUsize,
    /// Connection slots under `pool.max_connections`.
    pub slots: Slots,
}

impl Backend {
    /// A backend with zeroed counters, no latency samples and good health.
    pub fn new(address: Authority, weight: u32, ewma: &EwmaConfig) -> Self {
        Self {
            address,
            weight,
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            selections: AtomicU64::new(0),
            ewma: PeakEwma::new(ewma),
            health: Health::default(),
            websockets: AtomicUsize::new(0),
            sse_streams: AtomicUsize::new(0),
            slots: Slots::default(),
        }
    }

    /// Marks a request as started; the guard marks it finished when dropped.
    pub fn start(self: &Arc<Self>) -> InFlight {
        self.start_in(Slot::unlimited())
    }

    /// Marks a request as started in `slot` (from [`Slots::take`]), held as long as the guard.
    pub fn start_in(self: &Arc<Self>, slot: Slot) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
        InFlight {
            backend: Arc::clone(self),
            started: Instant::now(),
            _slot: slot,
        }
    }
}

/// Counts a request in flight to a backend for as long as it lives.
#[derive(Debug)]
pub struct InFlight {
    backend: Arc<Backend>,
    started: Instant,
    _slot: Slot,
}

impl InFlight {
    /// The backend this request went to.
    pub fn backend(&self) -> &Arc<Backend> {
        &self.backend
    }

    /// Time since [`Backend::start`].
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.backend.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How one request to a backend ended, as the request path reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A response head arrived `rtt` after the request was started.
    Response {
        /// Its status code.
        status: u16,
        /// Time from [`Backend::start`] to the response head.
        rtt: Duration,
    },
    /// No response head: the request failed after `elapsed`.
    Failed {
        /// What went wrong.
        kind: FailureKind,
        /// Time from [`Backend::start`] to the failure.
        elapsed: Duration,
    },
}

impl Outcome {
    /// The latency sample this outcome gives the EWMA: the response time, or the elapsed time
    /// of a timeout (a lower bound of the real latency). Fast failures (refused connections,
    /// resets) give none, so a dead backend never looks fast.
    pub fn latency(&self) -> Option<Duration> {
        match *self {
            Outcome::Response { rtt, .. } => Some(rtt),
            Outcome::Failed {
                kind: FailureKind::Timeout,
                elapsed,
            } => Some(elapsed),
            Outcome::Failed { .. } => None,
        }
    }

    /// The failure kind passive health sees, or `None` for a success.
    pub fn failure(&self) -> Option<FailureKind> {
        match *self {
            Outcome::Response { status, .. } if status >= 500 => Some(FailureKind::Status5xx),
            Outcome::Response { .. } => None,
            Outcome::Failed { kind, .. } => Some(kind),
        }
    }
}
