//! `slow_close`: the FIN is held for `delay` ms after the sender closed.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Plan, State, Toxic, millis};

/// Delays the close of this direction by `delay` milliseconds once the sender finished.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SlowClose {
    /// Delay in milliseconds.
    pub delay: i64,
}

impl Toxic for SlowClose {
    fn on_chunk(&self, _plan: &mut Plan<'_>, _state: &mut State) {}

    fn close_delay(&self) -> Duration {
        millis(self.delay)
    }
}
