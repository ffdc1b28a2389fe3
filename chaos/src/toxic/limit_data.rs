//! `limit_data`: the connection closes once `bytes` bytes went through this direction.

use serde::{Deserialize, Serialize};

use super::{End, Plan, State, Toxic};

/// Closes the connection when `bytes` bytes have been forwarded in this direction.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LimitData {
    /// Bytes allowed through before the close.
    pub bytes: i64,
}

impl Toxic for LimitData {
    fn on_chunk(&self, plan: &mut Plan<'_>, state: &mut State) {
        let limit = u64::try_from(self.bytes).unwrap_or(0);
        let left = limit.saturating_sub(state.bytes);
        let n = plan.bytes() as u64;
        if n >= left {
            plan.truncate(usize::try_from(left).unwrap_or(usize::MAX));
            plan.end = Some(End::Close);
            state.bytes = limit;
        } else {
            state.bytes += n;
        }
    }
}
