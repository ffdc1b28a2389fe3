//! Round robin: each backend in turn.

use super::{Balancer, PickContext};
use crate::upstream::Backend;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Each backend in turn, lock-free.
#[derive(Debug, Default)]
pub struct RoundRobin {
    next: AtomicUsize,
}

impl Balancer for RoundRobin {
    fn pick(&self, backends: &[Arc<Backend>], _ctx: &PickContext<'_>) -> Option<usize> {
        if backends.is_empty() {
            return None;
        }
        Some(self.next.fetch_add(1, Ordering::Relaxed) % backends.len())
    }
}
