//! The per-app command actor: the only task that writes to an app's command
//! socket once the app is published. It runs jobs one at a time (lttng-ust
//! serves one command at a time per socket) and, between jobs, watches the
//! socket for a hang-up (lttng-ust never writes to it unprompted).
//!
//! Each job's future is boxed: an actor lives as long as its app and spends
//! nearly all of it idle, so its task should not carry the deepest job's
//! state (several KiB per app) while it waits.

use std::sync::Arc;

use crate::core::app::Lease;
use crate::io::app_conn::{AppConn, AppJob, AppRef, JobReceiver};
use crate::io::app_sync::{list_tracepoints, sync_all, AppLink, AppShadow, SyncError};
use crate::io::job_queue::JobError;
use crate::io::state::Daemon;
use crate::io::stream::{idle_watch, AppIoError};

pub async fn run(d: Arc<Daemon>, app: AppRef, jobs: JobReceiver, mut shadow: AppShadow) {
    let lease = jobs.lease();
    loop {
        let job = tokio::select! {
            _ = lease.cancel.cancelled() => return,
            why = idle_watch(&lease.cmd) => return d.hang_up(&app, lease, "command socket", &why),
            job = jobs.recv() => job,
        };
        // Everything a job needs lives in its box, the link too: the idle
        // loop above alone sizes this task (one per app).
        Box::pin(run_job(&d, &app, lease, &mut shadow, *job)).await;
    }
}

async fn run_job(
    d: &Daemon,
    app: &AppRef,
    lease: &Lease<AppConn>,
    shadow: &mut AppShadow,
    job: AppJob,
) {
    let link = AppLink {
        app,
        conn: lease,
        deadline: d.deadline,
    };
    match job {
        AppJob::Sync { done } => {
            let r = sync_all(d, &link, shadow).await;
            if let Err(e @ SyncError::App(io)) = &r {
                if e.is_fatal() {
                    d.hang_up(app, lease, "configuration", io);
                }
            }
            let _ = done.send(r.map_err(|e| JobError {
                gone: e.is_gone(),
                reason: e.to_string(),
            }));
        }
        AppJob::Forget { session_id, done } => {
            let r = shadow.forget(&link, session_id).await;
            if let Err(e) = &r {
                d.hang_up(app, lease, "session release", e);
            }
            let _ = done.send(r.map_err(job_error));
        }
        AppJob::Statedump { session_id, done } => {
            let r = shadow.statedump(&link, session_id).await;
            if let Err(e) = &r {
                d.hang_up(app, lease, "statedump", e);
            }
            let _ = done.send(r.map_err(job_error));
        }
        AppJob::ListTracepoints { fields, done } => {
            let r = list_tracepoints(&link, fields).await;
            if let Err(e) = &r {
                d.hang_up(app, lease, "tracepoint listing", e);
            }
            let _ = done.send(r.map_err(job_error));
        }
    }
}

fn job_error(e: AppIoError) -> JobError {
    JobError {
        gone: e.is_gone(),
        reason: e.to_string(),
    }
}
