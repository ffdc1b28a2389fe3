//! `timeout`: a blackhole; the connection closes `timeout` ms after the last data (0: never).

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{End, Plan, State, Toxic, millis};

/// Stops all data and closes the connection after `timeout` ms; with 0 it never closes and
/// data is dropped until the toxic is removed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Timeout {
    /// Milliseconds before the close; 0 keeps the connection open, silent.
    pub timeout: i64,
}

impl Timeout {
    fn arm(&self, state: &mut State, now: Instant) {
        if self.timeout > 0 {
            state.deadline = Some((now + millis(self.timeout), End::Close));
        }
    }
}

impl Toxic for Timeout {
    fn start(&self, state: &mut State, now: Instant) {
        self.arm(state, now);
    }

    fn on_chunk(&self, plan: &mut Plan<'_>, state: &mut State) {
        plan.discard();
        // As in Toxiproxy, data arriving restarts the countdown.
        self.arm(state, plan.arrived);
    }
}
