//! The fault timeline: each action applied at its time, recorded with when it really happened.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::topology::Topology;
use crate::data::ActionRecord;
use crate::suite::chaos::{self as chaos_links, AddToxic};
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
        let (detail, error) = match apply(&timed.action, &topo).await {
            Ok(detail) => (detail, None),
            Err((detail, e)) => (detail, Some(e)),
        };
        let record = ActionRecord {
            name,
            label: timed.action.label(),
            at_s,
            detail,
            error,
        };
        on_action(&record);
        records.push(record);
    }
    records
}

/// Applies one action; `Ok(detail)` when it worked, `Err((detail, why))` when not. The
/// detail is what the proxy answered to a reload (`HTTP 200 {...}`).
async fn apply(
    action: &Action,
    topo: &Mutex<Topology>,
) -> Result<Option<String>, (Option<String>, String)> {
    let mut topo = topo.lock().await;
    let result = match action {
        Action::SetBehavior { backend, behavior } => {
            topo.set_behavior(backend, (**behavior).clone())
        }
        Action::Kill(id) => topo.kill(id).await,
        Action::Restart(id) => topo.restart(id).await,
        Action::Reload {
            config,
            expect_refused,
        } => {
            let answer = topo
                .reload(config)
                .await
                .map_err(|e| (None, e.to_string()))?;
            let detail = Some(format!("HTTP {} {}", answer.status, answer.body.trim()));
            return answer
                .judge(*expect_refused)
                .map(|()| detail.clone())
                .map_err(|e| (detail, e));
        }
        Action::AddToxic(v) => match chaos_links::parse_add(v).map_err(|e| (None, e))? {
            AddToxic::Toxic { link, toxic } => {
                let spec = topo
                    .add_toxic(&link, &toxic)
                    .map_err(|e| (None, e.to_string()))?;
                return Ok(Some(serde_json::to_string(&spec).unwrap_or_default()));
            }
            AddToxic::Down { link } => topo.set_link_up(&link, false).await,
        },
        Action::Drain => {
            let answer = topo.drain().await.map_err(|e| (None, e.to_string()))?;
            let detail = Some(format!("HTTP {} {}", answer.status, answer.body.trim()));
            return if answer.status == 202 {
                Ok(detail)
            } else {
                Err((
                    detail,
                    "the proxy did not accept the drain (expected 202)".to_owned(),
                ))
            };
        }
        Action::RemoveToxic(v) => {
            let (link, name) = chaos_links::parse_remove(v).map_err(|e| (None, e))?;
            if name == chaos_links::DOWN {
                topo.set_link_up(&link, true).await
            } else {
                topo.remove_toxic(&link, &name)
            }
        }
    };
    result.map(|()| None).map_err(|e| (None, e.to_string()))
}
