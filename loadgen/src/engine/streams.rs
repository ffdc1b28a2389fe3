//! SSE: hold `connections` streams open for the duration, reconnecting after failures.

use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::SmallRng;

use super::{Ctx, Outcome, join_all};
use crate::proto::sse;

/// Pause before reopening a failed stream.
const RECONNECT_BACKOFF: Duration = Duration::from_millis(50);

pub(super) async fn run(ctx: Ctx) -> Outcome {
    let duration = ctx.plan.duration.expect("validated: sse has a duration");
    let deadline = ctx.start + duration;
    let handles = (0..ctx.plan.connections)
        .map(|id| {
            let plan = ctx.plan.clone();
            let cancel = ctx.cancel.clone();
            let mut rec = ctx.recorder();
            tokio::spawn(async move {
                let mut rng = SmallRng::seed_from_u64(id as u64);
                while Instant::now() < deadline && !cancel.is_cancelled() {
                    if let Err(kind) = sse::hold(&plan, &mut rec, &mut rng, deadline, &cancel).await
                    {
                        rec.error(Instant::now(), kind);
                        tokio::select! {
                            () = tokio::time::sleep(RECONNECT_BACKOFF) => {}
                            () = cancel.cancelled() => {}
                        }
                    }
                }
                rec.finish()
            })
        })
        .collect();
    drop(ctx.tx);
    Outcome {
        totals: join_all(handles).await,
    }
}
