//! `bandwidth`: the link carries at most `rate` KB/s (1 KB = 1000 bytes).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Piece, Plan, State, Toxic};

/// Limits the direction to `rate` kilobytes per second; 0 means no limit.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Bandwidth {
    /// Rate in KB/s (1000 bytes per second each).
    pub rate: i64,
}

impl Toxic for Bandwidth {
    fn on_chunk(&self, plan: &mut Plan<'_>, state: &mut State) {
        let Ok(rate) = u64::try_from(self.rate) else {
            return;
        };
        if rate == 0 || plan.pieces.is_empty() {
            return;
        }
        // Pieces of at most 10 ms of transfer each, so the pace is smooth, not bursty.
        let max_piece = usize::try_from(rate * 10).unwrap_or(usize::MAX).max(1);
        let old = std::mem::take(plan.pieces);
        for piece in old {
            let mut start = piece.start;
            while start < piece.end {
                let end = (start + max_piece).min(piece.end);
                let len = (end - start) as u64;
                // rate KB/s = rate bytes per ms: len bytes take len / rate ms.
                let cost = Duration::from_micros(len * 1000 / rate);
                let free = state.next_free.map_or(piece.at, |f| f.max(piece.at));
                let at = free + cost;
                state.next_free = Some(at);
                plan.pieces.push(Piece { at, start, end });
                start = end;
            }
        }
    }
}
