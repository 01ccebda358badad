//! Session commands of the control protocol, and the concurrent fan-out
//! that applies a change to every registered app.
//!
//! The fan-out snapshots the registry (no guard kept), queues one job per
//! app on its command actor and gathers the answers. Each app's exchanges
//! carry that app's own deadline, so the wall time is about the slowest
//! app, not the sum, and a stopped app costs one deadline at most. No lock
//! is held while waiting.

use std::path::PathBuf;

use std::time::{Duration, SystemTime};

use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use crate::control::{AppFailure, ChannelOptions, FanOutReport};
use crate::core::session::{LoglevelSel, Session, SessionConfig, SessionError};
use crate::engine::trace::SessionTrace;
use crate::io::app_conn::{AppJob, AppRef};
use crate::io::host::local_datetime;
use crate::io::state::Daemon;

/// Upper bound on one app's share of a fan-out, beyond its per-step
/// deadlines (a full job queue ahead of ours, say).
const APP_JOB_BOUND: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error("{0}")]
    Trace(String),
}

type Outcome = Result<Value, CommandError>;

/// Queues `make(done)` on every live app's actor and gathers the results.
async fn fan_out<T: Send + 'static>(
    d: &Daemon,
    make: impl Fn(oneshot::Sender<Result<T, String>>) -> AppJob,
) -> (FanOutReport, Vec<(AppRef, T)>) {
    let mut set = JoinSet::new();
    for app in d.registry.snapshot() {
        let Some(lease) = app.lease() else { continue };
        let (tx, rx) = oneshot::channel();
        let job = Box::new(make(tx));
        set.spawn(async move {
            let r = match tokio::time::timeout(APP_JOB_BOUND, async {
                lease.jobs.send(job).await.map_err(|e| e.to_string())?;
                rx.await.map_err(|_| "app disconnected".to_owned())?
            })
            .await
            {
                Ok(r) => r,
                Err(_) => Err(format!("no answer within {APP_JOB_BOUND:?}")),
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
            Err(reason) => report.failed.push(AppFailure {
                app_id: app.id.0,
                pid: app.info.creds.pid,
                name: app.info.name.clone(),
                reason,
            }),
        }
    }
    report.failed.sort_by_key(|f| f.app_id);
    (report, values)
}

pub(crate) async fn sync_apps(d: &Daemon) -> FanOutReport {
    fan_out(d, |done| AppJob::Sync { done }).await.0
}

fn default_output(name: &str) -> PathBuf {
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home)
        .join("lttng-traces")
        .join(format!("{name}-{}", local_datetime(SystemTime::now())))
}

fn session_json<T>(s: &Session<T>, cfg: &SessionConfig) -> Value {
    json!({ "id": s.id, "name": cfg.name, "output": cfg.output, "active": cfg.active, "channels": cfg.channels })
}

pub async fn create(d: &Daemon, name: String, output: Option<PathBuf>) -> Outcome {
    SessionTrace::check_library().map_err(|e| CommandError::Trace(e.to_string()))?;
    let output = output.unwrap_or_else(|| default_output(&name));
    let s = d.sessions.create(&name, output)?;
    Ok(session_json(&s, &s.config()))
}

/// Applies a configuration change, then pushes it to apps if the session
/// has been started (unstarted sessions reach apps at `start`).
async fn change(
    d: &Daemon,
    session: Option<String>,
    f: impl FnOnce(&mut SessionConfig) -> Result<(), SessionError>,
) -> Outcome {
    let s = d.sessions.resolve(session.as_deref())?;
    d.sessions.update(&s, f)?;
    let cfg = s.config();
    let report = if cfg.ever_started {
        sync_apps(d).await
    } else {
        FanOutReport::default()
    };
    Ok(json!({ "session": cfg.name, "report": report }))
}

pub async fn enable_channel(
    d: &Daemon,
    session: Option<String>,
    name: String,
    o: ChannelOptions,
) -> Outcome {
    let attrs = o.resolve();
    change(d, session, |c| c.enable_channel(&name, Some(attrs))).await
}

pub async fn enable_event(
    d: &Daemon,
    session: Option<String>,
    channel: Option<String>,
    patterns: Vec<String>,
    loglevel: LoglevelSel,
) -> Outcome {
    change(d, session, |c| {
        patterns
            .iter()
            .try_for_each(|p| c.enable_event(channel.as_deref(), p, loglevel))
    })
    .await
}

pub async fn disable_event(
    d: &Daemon,
    session: Option<String>,
    channel: Option<String>,
    patterns: Vec<String>,
) -> Outcome {
    change(d, session, |c| {
        patterns
            .iter()
            .try_for_each(|p| c.disable_event(channel.as_deref(), p))
    })
    .await
}

pub async fn add_context(
    d: &Daemon,
    session: Option<String>,
    channel: Option<String>,
    types: Vec<String>,
) -> Outcome {
    change(d, session, |c| {
        types
            .iter()
            .try_for_each(|t| c.add_context(channel.as_deref(), t))
    })
    .await
}

pub async fn start(d: &Daemon, session: Option<String>) -> Outcome {
    let s = d.sessions.resolve(session.as_deref())?;
    let cfg = s.config();
    // The trace exists before the change is visible (one transition with
    // it), so an app registering meanwhile finds buffers in its global update.
    let fresh = if d.sessions.needs_trace(&s)? {
        Some(SessionTrace::new(s.id, &cfg).map_err(|e| CommandError::Trace(e.to_string()))?)
    } else {
        None
    };
    if let Err(refused) = d.sessions.start(&s, fresh) {
        if let Some(unused) = refused.unused {
            // Destroyed (or started) meanwhile: this trace never held data.
            let _ = tokio::task::spawn_blocking(move || unused.destroy()).await;
        }
        return Err(refused.error.into());
    }
    let report = sync_apps(d).await;
    Ok(json!({ "session": cfg.name, "report": report }))
}

pub async fn stop(d: &Daemon, session: Option<String>) -> Outcome {
    let s = d.sessions.resolve(session.as_deref())?;
    let trace = d.sessions.stop(&s)?;
    let report = sync_apps(d).await;
    let mut flushed = Value::Null;
    if let Some(trace) = trace {
        // Flushing and draining touch files and shm, not apps: off the
        // runtime's workers.
        let r = tokio::task::spawn_blocking(move || trace.stop()).await;
        flushed = match r {
            Ok(Ok(())) => json!(true),
            Ok(Err(e)) => json!(e.to_string()),
            Err(e) => json!(e.to_string()),
        };
    }
    Ok(json!({ "session": s.config().name, "report": report, "flushed": flushed }))
}

pub async fn destroy(d: &Daemon, session: Option<String>) -> Outcome {
    let s = d.sessions.resolve(session.as_deref())?;
    if s.config().active {
        stop(d, Some(s.config().name)).await?;
    }
    let name = s.config().name;
    let (_, trace) = d.sessions.destroy(&name)?;
    let id = s.id;
    let (report, _) = fan_out(d, |done| AppJob::Forget {
        session_id: id,
        done,
    })
    .await;
    let mut path = Value::Null;
    let mut buffers = Value::Null;
    if let Some(trace) = trace {
        path = json!(trace.output_dir());
        let r = tokio::task::spawn_blocking(move || trace.destroy()).await;
        match r {
            Ok(Err(e)) => {
                return Err(CommandError::Trace(format!(
                    "session destroyed, but closing its trace failed: {e}"
                )))
            }
            Ok(Ok(loss)) => buffers = json!(loss),
            Err(_) => {}
        }
    }
    Ok(json!({ "session": name, "report": report, "trace": path, "buffers": buffers }))
}

pub fn list_sessions(d: &Daemon) -> Outcome {
    let v: Vec<Value> = d
        .sessions
        .all()
        .iter()
        .map(|s| session_json(s, &s.config()))
        .collect();
    Ok(json!({ "sessions": v }))
}

/// The session, and what its channels lost so far (`buffers`, by channel:
/// discarded events, lost packets, unreadable sub-buffers, stalled streams,
/// recoveries from wedged buffers) once it has a trace.
pub fn show_session(d: &Daemon, name: &str) -> Outcome {
    let s = d.sessions.get(name)?;
    let mut v = session_json(&s, &s.config());
    if let Some(trace) = d.trace(s.id) {
        // A round trip to the session's consumer thread.
        let loss = tokio::task::block_in_place(|| trace.loss());
        v["buffers"] = json!(loss);
    }
    Ok(v)
}

pub async fn list_tracepoints(d: &Daemon, fields: bool) -> Outcome {
    let (report, values) = fan_out(d, |done| AppJob::ListTracepoints { fields, done }).await;
    let apps: Vec<Value> = values
        .into_iter()
        .map(|(a, tps)| json!({ "app_id": a.id.0, "pid": a.info.creds.pid, "name": a.info.name, "tracepoints": tps }))
        .collect();
    Ok(json!({ "apps": apps, "report": report }))
}
