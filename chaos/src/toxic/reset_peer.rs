//! `reset_peer`: on the first data, a TCP RST right away or `timeout` ms later.

use serde::{Deserialize, Serialize};

use super::{End, Plan, State, Toxic, millis};

/// Resets the connection (RST, "connection reset by peer") when data flows: at once, or
/// `timeout` ms after the first chunk, which is dropped.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ResetPeer {
    /// Milliseconds between the first data and the reset.
    pub timeout: i64,
}

impl Toxic for ResetPeer {
    fn on_chunk(&self, plan: &mut Plan<'_>, state: &mut State) {
        plan.discard();
        if self.timeout <= 0 {
            plan.end = Some(End::Reset);
        } else if !state.blackhole {
            state.blackhole = true;
            state.deadline = Some((plan.arrived + millis(self.timeout), End::Reset));
        }
    }
}
