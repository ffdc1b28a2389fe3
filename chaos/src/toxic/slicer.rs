//! `slicer`: chunks cut into small pieces of about `average_size` bytes, `delay` µs apart.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{Piece, Plan, State, Toxic};

/// Slices data into pieces of `average_size` ± `size_variation` bytes, `delay` microseconds
/// apart.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Slicer {
    /// Mean piece size in bytes.
    pub average_size: i64,
    /// Spread of the piece size in bytes.
    pub size_variation: i64,
    /// Pause between pieces in microseconds.
    pub delay: i64,
}

impl Toxic for Slicer {
    fn on_chunk(&self, plan: &mut Plan<'_>, state: &mut State) {
        let average = self.average_size.max(1);
        let variation = self.size_variation.clamp(0, average - 1);
        let gap = Duration::from_micros(u64::try_from(self.delay).unwrap_or(0));
        let old = std::mem::take(plan.pieces);
        let mut at = None;
        for piece in old {
            let mut start = piece.start;
            while start < piece.end {
                let size = if variation > 0 {
                    state
                        .rng
                        .random_range(average - variation..=average + variation)
                } else {
                    average
                };
                let end = (start + usize::try_from(size).unwrap_or(1)).min(piece.end);
                let when = at.map_or(piece.at, |t: std::time::Instant| (t + gap).max(piece.at));
                at = Some(when);
                plan.pieces.push(Piece {
                    at: when,
                    start,
                    end,
                });
                start = end;
            }
        }
    }
}
