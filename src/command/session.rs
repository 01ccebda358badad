//! The session commands: each validates and applies one transition of the
//! session model (`core::session`), then, where apps must follow, fans the
//! change out to them (`io::fan_out`) and reports per app.

use std::path::PathBuf;
use std::time::SystemTime;

use crate::command::reply::{
    Applied, ChannelLossView, Destroyed, FanOutReport, Flush, LossView, SessionList, SessionView,
    Stopped,
};
use crate::command::request::ChannelOptions;
use crate::command::CommandError;
use crate::core::event_filter::EventFilter;
use crate::core::session::{EventKey, LoglevelSel, SessionConfig, SessionError};
use crate::engine::trace::{LossReport, SessionTrace};
use crate::io::app_conn::AppJob;
use crate::io::fan_out::{fan_out, sync_apps};
use crate::io::host::local_datetime;
use crate::io::state::Daemon;

pub(super) fn default_output(name: &str) -> PathBuf {
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home)
        .join("lttng-traces")
        .join(format!("{name}-{}", local_datetime(SystemTime::now())))
}

fn loss_view(r: &LossReport) -> LossView {
    r.iter()
        .map(|(name, l)| {
            let b = &l.buffers;
            let v = ChannelLossView {
                discarded_events: b.discarded_events,
                lost_packets: b.lost_packets,
                unreadable_subbufs: b.unreadable_subbufs,
                stalled_streams: b.stalled_streams,
                recoveries: l.recoveries,
            };
            (name.clone(), v)
        })
        .collect()
}

fn trace_error(e: impl std::fmt::Display) -> CommandError {
    CommandError::Trace(e.to_string())
}

/// Creates a session owned by `owner` (uid, gid; only that uid and root see it).
pub async fn create(
    d: &Daemon,
    name: String,
    output: Option<PathBuf>,
    owner: (u32, u32),
) -> Result<SessionView, CommandError> {
    SessionTrace::check_library().map_err(trace_error)?;
    let output = output.unwrap_or_else(|| default_output(&name));
    let s = d.sessions.create_for(&name, output, owner)?;
    Ok(SessionView::of(&s))
}

/// Applies a configuration change, then pushes it to apps if the session
/// has been started (unstarted sessions reach apps at `start`).
pub(super) async fn change(
    d: &Daemon,
    session: Option<String>,
    f: impl FnOnce(&mut SessionConfig) -> Result<(), SessionError>,
) -> Result<Applied, CommandError> {
    let s = d.sessions.resolve(session.as_deref())?;
    d.sessions.update(&s, f)?;
    let cfg = s.config();
    let report = if cfg.ever_started {
        sync_apps(d).await
    } else {
        FanOutReport::default()
    };
    Ok(Applied {
        session: cfg.name,
        report,
    })
}

pub async fn enable_channel(
    d: &Daemon,
    session: Option<String>,
    name: String,
    o: ChannelOptions,
) -> Result<Applied, CommandError> {
    let mut attrs = o.resolve();
    change(d, session, |c| {
        // lttng: snapshot sessions default to overwrite mode.
        attrs.overwrite |= c.snapshot.is_some() && !o.discard;
        c.enable_channel(&name, Some(attrs))
    })
    .await
}

/// Disables channels: apps stop recording into them, their rules stay.
pub async fn disable_channel(
    d: &Daemon,
    session: Option<String>,
    names: Vec<String>,
) -> Result<Applied, CommandError> {
    change(d, session, |c| {
        names.iter().try_for_each(|n| c.disable_channel(n))
    })
    .await
}

/// Enables one rule per pattern, all with the same loglevel, filter and
/// exclusions.
pub async fn enable_event(
    d: &Daemon,
    session: Option<String>,
    channel: Option<String>,
    patterns: Vec<String>,
    loglevel: LoglevelSel,
    filter: Option<EventFilter>,
    exclusions: Vec<String>,
) -> Result<Applied, CommandError> {
    change(d, session, |c| {
        patterns.iter().try_for_each(|p| {
            let key = EventKey {
                filter: filter.clone(),
                exclusions: exclusions.clone(),
                ..EventKey::new(p, loglevel)
            };
            c.enable_rule(channel.as_deref(), key)
        })
    })
    .await
}

pub async fn disable_event(
    d: &Daemon,
    session: Option<String>,
    channel: Option<String>,
    patterns: Vec<String>,
) -> Result<Applied, CommandError> {
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
) -> Result<Applied, CommandError> {
    change(d, session, |c| {
        types
            .iter()
            .try_for_each(|t| c.add_context(channel.as_deref(), t))
    })
    .await
}

pub async fn start(d: &Daemon, session: Option<String>) -> Result<Applied, CommandError> {
    let s = d.sessions.resolve(session.as_deref())?;
    let cfg = s.config();
    // The trace exists before the change is visible (one transition with
    // it), so an app registering meanwhile finds buffers in its global update.
    let fresh = if d.sessions.needs_trace(&s)? {
        let c = cfg.clone();
        tokio::task::spawn_blocking(move || SessionTrace::create_output(&c))
            .await
            .map_err(trace_error)?
            .map_err(|e| CommandError::CreateDir(e.to_string()))?;
        Some(SessionTrace::new(s.id, &cfg, d.budget.clone()).map_err(trace_error)?)
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
    Ok(Applied {
        session: cfg.name,
        report,
    })
}

pub async fn stop(d: &Daemon, session: Option<String>) -> Result<Stopped, CommandError> {
    let s = d.sessions.resolve(session.as_deref())?;
    // DATA_PENDING says "pending" from before the stop until the data is out.
    let _draining = s.draining();
    let trace = d.sessions.stop(&s)?;
    let report = sync_apps(d).await;
    let mut flushed = None;
    if let Some(trace) = trace {
        // Flushing and draining touch files and shm, not apps: off the
        // runtime's workers.
        let r = tokio::task::spawn_blocking(move || trace.stop()).await;
        flushed = Some(match r {
            Ok(Ok(())) => Flush::Done,
            Ok(Err(e)) => Flush::Failed(e.to_string()),
            Err(e) => Flush::Failed(e.to_string()),
        });
    }
    Ok(Stopped {
        session: s.config().name,
        report,
        flushed,
    })
}

pub async fn destroy(d: &Daemon, session: Option<String>) -> Result<Destroyed, CommandError> {
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
    let mut path = None;
    let mut buffers = None;
    if let Some(trace) = trace {
        path = Some(trace.output_dir().to_path_buf());
        let r = tokio::task::spawn_blocking(move || trace.destroy()).await;
        match r {
            Ok(Err(e)) => {
                return Err(CommandError::Trace(format!(
                    "session destroyed, but closing its trace failed: {e}"
                )))
            }
            Ok(Ok(loss)) => buffers = Some(loss_view(&loss)),
            Err(_) => {}
        }
    }
    Ok(Destroyed {
        session: name,
        report,
        trace: path,
        buffers,
    })
}

pub fn list_sessions(d: &Daemon) -> SessionList {
    SessionList {
        sessions: d
            .sessions
            .all()
            .iter()
            .map(|s| SessionView::of(s))
            .collect(),
    }
}

/// The session, and what its channels lost so far once it has a trace.
pub fn show_session(d: &Daemon, name: &str) -> Result<SessionView, CommandError> {
    let s = d.sessions.get(name)?;
    let mut v = SessionView::of(&s);
    if let Some(trace) = s.trace() {
        // A round trip to the session's consumer thread.
        v.buffers = Some(loss_view(&tokio::task::block_in_place(|| trace.loss())));
    }
    Ok(v)
}
