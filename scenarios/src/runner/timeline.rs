//! The fault timeline: each action applied at its time, recorded with when it really happened.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::topology::Topology;
use crate::data::ActionRecord;
use crate::suite::{Action, TimedAction};

/// Applies `actions` (sorted by time) from `t0` until done or cancelled; returns what ran.
pub(super) async fn run(
    actions: Vec<(String, TimedAction)>,
    topo: Arc<Mutex<Topology>>,
    t0: Instant,
    cancel: CancellationToken,
    on_action: impl Fn(&ActionRecord) + Send,
) -> Vec<ActionRecord> {
    let mut records = Vec::new();
    for (name, timed) in actions {
        tokio::select! {
            _ = tokio::time::sleep_until((t0 + timed.at).into()) => {}
            _ = cancel.cancelled() => break,
        }
        let at_s = t0.elapsed().as_secs_f64();
        let error = apply(&timed.action, &topo).await.err();
        let record = ActionRecord {
            name,
            label: timed.action.label(),
            at_s,
            error,
        };
        on_action(&record);
        records.push(record);
    }
    records
}

async fn apply(action: &Action, topo: &Mutex<Topology>) -> Result<(), String> {
    let mut topo = topo.lock().await;
    let result = match action {
        Action::SetBehavior { backend, behavior } => {
            topo.set_behavior(backend, (**behavior).clone())
        }
        Action::Kill(id) => topo.kill(id).await,
        Action::Restart(id) => topo.restart(id).await,
        Action::Reload(text) => topo.reload(text).map(|_| ()),
        Action::AddToxic(_) | Action::RemoveToxic(_) => {
            return Err("toxic actions need the chaos crate".to_owned());
        }
    };
    result.map_err(|e| e.to_string())
}
