//! State shared by all connections of one backend: id, behaviour, random source, counters.

use std::sync::{Arc, Mutex, RwLock};

use rand::SeedableRng;
use rand::rngs::SmallRng;

use crate::behavior::{Behavior, BehaviorError};
use crate::stats::Stats;

/// One backend's shared state.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) id: String,
    behavior: RwLock<Arc<Behavior>>,
    rng: Mutex<SmallRng>,
    pub(crate) stats: Stats,
}

impl Shared {
    /// Builds the state; the behaviour must already be valid.
    pub(crate) fn new(id: String, behavior: Behavior) -> Self {
        Self {
            id,
            rng: Mutex::new(rng_for(&behavior)),
            behavior: RwLock::new(Arc::new(behavior)),
            stats: Stats::default(),
        }
    }

    /// The behaviour in force now (a cheap snapshot).
    pub(crate) fn behavior(&self) -> Arc<Behavior> {
        self.behavior
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Validates and installs a behaviour; a seed in it restarts the random sequence.
    pub(crate) fn set_behavior(&self, behavior: Behavior) -> Result<(), BehaviorError> {
        behavior.validate()?;
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        if behavior.seed.is_some() {
            *rng = rng_for(&behavior);
        }
        *self.behavior.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(behavior);
        Ok(())
    }

    /// Runs `f` with the backend's random source.
    pub(crate) fn with_rng<T>(&self, f: impl FnOnce(&mut SmallRng) -> T) -> T {
        f(&mut self.rng.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

fn rng_for(behavior: &Behavior) -> SmallRng {
    match behavior.seed {
        Some(seed) => SmallRng::seed_from_u64(seed),
        None => SmallRng::from_os_rng(),
    }
}
