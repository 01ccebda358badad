//! The concurrent fan-out that carries one job to every registered app.
//!
//! It snapshots the registry (no guard kept), queues one job per app on its
//! command actor and gathers the answers. Each app's exchanges carry that
//! app's own deadline, so the wall time is about the slowest app, not the
//! sum, and a stopped app costs one deadline at most. No lock is held while
//! waiting.

use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinSet;

use crate::command::reply::{AppFailure, FanOutReport};
use crate::io::app_conn::{AppJob, AppRef};
use crate::io::job_queue::{Done, JobError};
use crate::io::state::Daemon;

/// Upper bound on one app's share of a fan-out, beyond its per-step
/// deadlines (a full job queue ahead of ours, say).
const APP_JOB_BOUND: Duration = Duration::from_secs(60);

/// Queues `make(done)` on every live app's actor and gathers the results.
pub(crate) async fn fan_out<T: Send + 'static>(
    d: &Daemon,
    make: impl Fn(Done<T>) -> AppJob,
) -> (FanOutReport, Vec<(AppRef, T)>) {
    let mut set = JoinSet::new();
    for app in d.registry.snapshot() {
        let Some(lease) = app.lease() else { continue };
        let (tx, rx) = oneshot::channel();
        let job = Box::new(make(tx));
        set.spawn(async move {
            let r = match tokio::time::timeout(APP_JOB_BOUND, async {
                // A closed queue or a dropped answer: the app's actor has
                // ended, i.e. the app is gone.
                lease
                    .jobs
                    .send(job)
                    .await
                    .map_err(|e| JobError::gone(e.to_string()))?;
                rx.await.map_err(|_| JobError::gone("app disconnected"))?
            })
            .await
            {
                Ok(r) => r,
                Err(_) => Err(JobError::failed(format!(
                    "no answer within {APP_JOB_BOUND:?}"
                ))),
            };
            (app, r)
        });
    }
    let mut report = FanOutReport::default();
    let mut values = Vec::new();
    while let Some(joined) = set.join_next().await {
        let Ok((app, r)) = joined else { continue };
        match r {
            Ok(v) => {
                report.applied += 1;
                values.push((app, v));
            }
            Err(e) => {
                let f = AppFailure {
                    app_id: app.id.0,
                    pid: app.info.creds.pid,
                    name: app.info.name.clone(),
                    reason: e.reason,
                };
                if e.gone {
                    report.gone.push(f)
                } else {
                    report.failed.push(f)
                }
            }
        }
    }
    report.failed.sort_by_key(|f| f.app_id);
    report.gone.sort_by_key(|f| f.app_id);
    (report, values)
}

/// Brings every app in line with the configuration (`AppJob::Sync`).
pub(crate) async fn sync_apps(d: &Daemon) -> FanOutReport {
    fan_out(d, |done| AppJob::Sync { done }).await.0
}
