//! The stall watcher: once per stall period, every trace retires per-UID
//! buffers wedged by a dead writer (see `SessionTrace::recover_stalled`),
//! and apps still mapping retired buffers are synced, which moves them to
//! the current generation through the normal command path. Repeating the
//! sync while any app lags is what catches apps that attached concurrently
//! with a retirement (see `core::handover`).

use std::sync::Weak;

use crate::engine::STALL_AFTER;
use crate::io::state::Daemon;

pub async fn run(d: Weak<Daemon>) {
    let mut tick = tokio::time::interval(STALL_AFTER);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(d) = d.upgrade() else { return };
        if d.shutdown.is_cancelled() {
            return;
        }
        let traces = d.sessions.traces();
        // Consumer round trips: off the runtime's workers.
        let lagging = tokio::task::spawn_blocking(move || {
            traces
                .iter()
                .fold(false, |acc, t| t.recover_stalled() | acc)
        })
        .await
        .unwrap_or(false);
        if lagging {
            let report = crate::io::fan_out::sync_apps(&d).await;
            if !report.failed.is_empty() {
                tracing::info!(
                    failed = report.failed.len(),
                    "some apps could not be moved off retired buffers yet"
                );
            }
        }
    }
}
