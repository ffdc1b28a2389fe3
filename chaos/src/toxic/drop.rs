//! `drop`: a share of the chunks silently vanishes, like loss the transport never repairs.

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{Plan, State, Toxic};

/// Discards each chunk with probability `probability` (0 to 1).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DropChunks {
    /// Share of chunks discarded, 0 to 1.
    pub probability: f64,
}

impl Toxic for DropChunks {
    fn on_chunk(&self, plan: &mut Plan<'_>, state: &mut State) {
        if self.probability > 0.0 && state.rng.random::<f64>() < self.probability {
            plan.discard();
        }
    }
}
