//! The per-app command actor: the only task that writes to an app's command
//! socket once the app is published. It runs jobs one at a time (lttng-ust
//! serves one command at a time per socket) and, between jobs, watches the
//! socket for a hang-up (lttng-ust never writes to it unprompted).

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::core::app::Lease;
use crate::io::app_conn::{AppConn, AppJob, AppRef};
use crate::io::app_session::{list_tracepoints, AppLink, AppShadow, SyncError};
use crate::io::daemon::Daemon;
use crate::io::stream::idle_watch;

pub async fn run(
    d: Arc<Daemon>,
    app: AppRef,
    lease: Arc<Lease<AppConn>>,
    mut jobs: mpsc::Receiver<AppJob>,
    mut shadow: AppShadow,
) {
    let link = AppLink {
        app: &app,
        conn: &lease,
        deadline: d.deadline,
    };
    loop {
        let job = tokio::select! {
            _ = lease.cancel.cancelled() => return,
            _ = d.shutdown.cancelled() => return,
            why = idle_watch(&lease.cmd) => return d.hang_up(&app, &lease, "command socket", &why),
            job = jobs.recv() => match job { Some(j) => j, None => return },
        };
        match job {
            AppJob::Sync { done } => {
                let r = sync_all(&d, &link, &mut shadow).await;
                if let Err(SyncError::App(e)) = &r {
                    if !matches!(e, crate::io::stream::AppIoError::Refused { .. }) {
                        d.hang_up(&app, &lease, "configuration", e);
                    }
                }
                let _ = done.send(r.map_err(|e| e.to_string()));
            }
            AppJob::Forget { session_id, done } => {
                let r = shadow.forget(&link, session_id).await;
                if let Err(e) = &r {
                    d.hang_up(&app, &lease, "session release", e);
                }
                let _ = done.send(r.map_err(|e| e.to_string()));
            }
            AppJob::ListTracepoints { fields, done } => {
                let r = list_tracepoints(&link, fields).await;
                if let Err(e) = &r {
                    d.hang_up(&app, &lease, "tracepoint listing", e);
                }
                let _ = done.send(r.map_err(|e| e.to_string()));
            }
        }
    }
}

/// Brings the app in line with every session (the global update).
pub async fn sync_all(
    d: &Daemon,
    link: &AppLink<'_>,
    shadow: &mut AppShadow,
) -> Result<(), SyncError> {
    let sessions = d.sessions.all();
    for s in &sessions {
        let Some(trace) = d.trace(s.id) else { continue };
        shadow.sync(link, s.id, &s.config(), &trace).await?;
    }
    // A session destroyed while this app was not yet in the fan-out's
    // snapshot (e.g. during its handshake) is released here.
    for gone in shadow
        .session_ids()
        .into_iter()
        .filter(|id| sessions.iter().all(|s| s.id != *id))
    {
        shadow.forget(link, gone).await?;
    }
    Ok(())
}
