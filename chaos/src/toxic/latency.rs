//! `latency`: every chunk waits `latency` ms, plus or minus up to `jitter` ms.

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{Plan, State, Toxic, millis};

/// Delays each chunk by `latency` ± `jitter` milliseconds, measured from when it was read.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Latency {
    /// Added delay in milliseconds.
    pub latency: i64,
    /// Spread in milliseconds: the delay is drawn uniformly in `latency ± jitter`.
    pub jitter: i64,
}

impl Toxic for Latency {
    fn on_chunk(&self, plan: &mut Plan<'_>, state: &mut State) {
        let jitter = self.jitter.max(0);
        let offset = if jitter > 0 {
            state.rng.random_range(-jitter..=jitter)
        } else {
            0
        };
        let at = plan.arrived + millis(self.latency.saturating_add(offset));
        for piece in plan.pieces.iter_mut() {
            piece.at = piece.at.max(at);
        }
    }
}
