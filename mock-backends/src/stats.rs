//! Request counters kept by each backend.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Paths beyond this many distinct ones are counted under `"(other)"`.
const MAX_PATHS: usize = 1000;

/// A copy of a backend's counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// Requests seen (control endpoints under `/__mock/` excluded).
    pub requests: u64,
    /// TCP connections accepted.
    pub connections: u64,
    /// Requests by path.
    pub by_path: BTreeMap<String, u64>,
    /// Responses by status code (connections broken on purpose have none).
    pub by_status: BTreeMap<u16, u64>,
    /// Injected faults by name (`latency`, `error`, `dribble`, `reset`, `close_mid_body`, ...).
    pub faults: BTreeMap<String, u64>,
}

impl StatsSnapshot {
    /// Requests seen on one path.
    pub fn path(&self, path: &str) -> u64 {
        self.by_path.get(path).copied().unwrap_or(0)
    }

    /// Responses sent with one status.
    pub fn status(&self, status: u16) -> u64 {
        self.by_status.get(&status).copied().unwrap_or(0)
    }

    /// Times one fault was injected.
    pub fn fault(&self, name: &str) -> u64 {
        self.faults.get(name).copied().unwrap_or(0)
    }
}

/// Live counters behind a lock held only for a few increments.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    inner: Mutex<StatsSnapshot>,
}

impl Stats {
    pub(crate) fn connection(&self) {
        self.with(|s| s.connections += 1);
    }

    pub(crate) fn request(&self, path: &str) {
        self.with(|s| {
            s.requests += 1;
            let key = if s.by_path.len() < MAX_PATHS || s.by_path.contains_key(path) {
                path
            } else {
                "(other)"
            };
            *s.by_path.entry(key.to_owned()).or_default() += 1;
        });
    }

    pub(crate) fn status(&self, status: u16) {
        self.with(|s| *s.by_status.entry(status).or_default() += 1);
    }

    pub(crate) fn fault(&self, name: &str) {
        self.with(|s| *s.faults.entry(name.to_owned()).or_default() += 1);
    }

    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        self.with(|s| s.clone())
    }

    pub(crate) fn reset(&self) {
        self.with(|s| *s = StatsSnapshot::default());
    }

    fn with<T>(&self, f: impl FnOnce(&mut StatsSnapshot) -> T) -> T {
        let mut guard = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    }
}
