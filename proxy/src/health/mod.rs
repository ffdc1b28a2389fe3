//! Active health checks: one probe task per backend, following hot reloads.
//!
//! A reload carries a probe over when its backend (the same `Arc`, i.e. same address and
//! weight) keeps the same check; added backends start probing, removed ones stop, and a
//! backend whose check is removed is put back in rotation. Passive health (ejection after
//! failures in a row) lives with the backend's state in [`crate::backend`].

mod active;

pub use active::{Counter, Verdict};

use crate::backend::Backend;
use crate::config::HealthCheckConfig;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio_util::sync::CancellationToken;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// One running probe.
#[derive(Debug, Clone)]
struct Probe {
    id: u64,
    upstream: String,
    backend: Arc<Backend>,
    cfg: HealthCheckConfig,
    stop: CancellationToken,
}

/// Every running probe of one runtime snapshot.
#[derive(Debug, Default)]
pub struct Probes {
    running: Vec<Probe>,
    /// Cancels every probe of this and later snapshots (shutdown).
    root: CancellationToken,
}

/// One upstream's backends and check, as [`Probes::follow`] takes them.
#[derive(Debug)]
pub struct Checked<'a> {
    /// Upstream name.
    pub upstream: &'a str,
    /// Its backends.
    pub backends: &'a [Arc<Backend>],
    /// Its active check, if any.
    pub check: Option<&'a HealthCheckConfig>,
    /// Its TLS settings: probes speak TLS too.
    pub tls: Option<&'a crate::config::UpstreamTls>,
}

impl Probes {
    /// The probes for `upstreams`: those of `previous` that still apply are carried over,
    /// missing ones are started, the rest of `previous` are stopped.
    pub fn follow(upstreams: &[Checked<'_>], previous: Option<&Probes>) -> Self {
        let root = previous.map_or_else(CancellationToken::new, |p| p.root.clone());
        let mut running = Vec::new();
        for u in upstreams {
            let Some(cfg) = u.check else { continue };
            for backend in u.backends {
                let same = previous.and_then(|p| {
                    p.running.iter().find(|old| {
                        // A TLS upstream's probes restart: its files were read again.
                        old.upstream == u.upstream
                            && Arc::ptr_eq(&old.backend, backend)
                            && old.cfg == *cfg
                            && u.tls.is_none()
                    })
                });
                if let Some(old) = same {
                    running.push(old.clone());
                    continue;
                }
                let probe = Probe {
                    id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                    upstream: u.upstream.to_owned(),
                    backend: Arc::clone(backend),
                    cfg: cfg.clone(),
                    stop: root.child_token(),
                };
                if active::spawn(
                    probe.upstream.clone(),
                    Arc::clone(&probe.backend),
                    probe.cfg.clone(),
                    u.tls.cloned(),
                    probe.stop.clone(),
                ) {
                    running.push(probe);
                }
            }
        }
        if let Some(previous) = previous {
            for old in &previous.running {
                if running.iter().any(|p| p.id == old.id) {
                    continue;
                }
                old.stop.cancel();
                // Unless a new probe took over this backend, nothing judges it actively now.
                if !running
                    .iter()
                    .any(|p| Arc::ptr_eq(&p.backend, &old.backend))
                {
                    old.backend.health.set_active(true);
                }
            }
        }
        Self { running, root }
    }

    /// Stops every probe, including those a later reload would carry over.
    pub fn stop_all(&self) {
        self.root.cancel();
    }

    /// How many probes are running.
    pub fn len(&self) -> usize {
        self.running.len()
    }

    /// True when no probe runs.
    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }
}
