//! The session commands: each validates and applies one transition of the
//! session model (`core::session`), then, where apps must follow, fans the
//! change out to them (`io::fan_out`) and reports per app.

use std::path::PathBuf;
use std::time::SystemTime;

use crate::command::reply::{
    Applied, ChannelLossView, Destroyed, FanOutReport, Flush, LossView, SessionList, SessionView,
    Stopped,
};
use std::net::{SocketAddr, ToSocketAddrs};

use crate::command::request::{ChannelOptions, NetRequest};
use crate::command::CommandError;
use crate::core::event_filter::EventFilter;
use crate::core::net_output::{endpoints, NetOutput};
use crate::core::session::{EventKey, LoglevelSel, SessionConfig, SessionError};
use crate::engine::trace::{LossReport, SessionTrace, TraceError};
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
    create_with(d, name, output, None, owner).await
}

/// Creates a session, streaming to a relayd when `net` is given (its
/// listed output is then the relayd's URL, as lttng lists it).
pub async fn create_with(
    d: &Daemon,
    name: String,
    output: Option<PathBuf>,
    net: Option<NetOutput>,
    owner: (u32, u32),
) -> Result<SessionView, CommandError> {
    SessionTrace::check_library().map_err(trace_error)?;
    if let Some(n) = &net {
        probe_relayd(n).await?;
    }
    let output = match &net {
        Some(n) => PathBuf::from(n.describe()),
        None => output.unwrap_or_else(|| default_output(&name)),
    };
    let s = d.sessions.create_with(&name, output, owner, None, net)?;
    Ok(SessionView::of(&s))
}

/// Connects to the relayd and negotiates the version (each step within the
/// relayd client's call deadline), then hangs up: an unreachable relayd is
/// a clear error at `create` (issue 11), where lttng-sessiond 2.13.9 fails
/// only the first channel creation. `start` connects again for real.
pub(crate) async fn probe_relayd(n: &NetOutput) -> Result<(), CommandError> {
    let n = n.clone();
    tokio::task::spawn_blocking(move || crate::engine::net_output::probe(&n))
        .await
        .map_err(|e| CommandError::Relayd(e.to_string()))?
        .map_err(|e| CommandError::Relayd(format!("Unable to connect to lttng-relayd: {e}")))
}

/// Resolves the relayd's host names (IPv4 first unless the URL is
/// `net6`/`tcp6`), off the runtime's workers.
pub async fn resolve_net(n: NetRequest) -> Result<NetOutput, CommandError> {
    let e = endpoints(
        n.set_url.as_deref(),
        n.control_url.as_deref(),
        n.data_url.as_deref(),
    )
    .map_err(|e| CommandError::Session(SessionError::Invalid(e.to_string())))?;
    let live_timer_us = match n.live_timer_us {
        Some(0) => {
            return Err(CommandError::Session(SessionError::Invalid(
                "the live timer period must be positive".into(),
            )))
        }
        Some(us) => us,
        None => 0,
    };
    let resolved = tokio::task::spawn_blocking(move || {
        let one = |(host, port): &(String, u16)| -> Result<SocketAddr, CommandError> {
            let all: Vec<SocketAddr> = (host.as_str(), *port)
                .to_socket_addrs()
                .map_err(|err| CommandError::Relayd(format!("cannot resolve `{host}`: {err}")))?
                .collect();
            all.iter()
                .find(|a| a.is_ipv6() == e.ipv6)
                .or(all.first())
                .copied()
                .ok_or_else(|| CommandError::Relayd(format!("`{host}` has no address")))
        };
        Ok::<_, CommandError>((one(&e.control)?, one(&e.data)?, e.subdir))
    })
    .await
    .map_err(|err| CommandError::Relayd(err.to_string()))?;
    let (control, data, subdir) = resolved?;
    Ok(NetOutput {
        control,
        data,
        subdir,
        live_timer_us,
    })
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
        if cfg.net.is_none() {
            let c = cfg.clone();
            tokio::task::spawn_blocking(move || SessionTrace::create_output(&c))
                .await
                .map_err(trace_error)?
                .map_err(|e| CommandError::CreateDir(e.to_string()))?;
        }
        // A network session connects to its relayd here (bounded by the
        // relayd client's deadline).
        let trace = tokio::task::block_in_place(|| SessionTrace::new(s.id, &cfg, d.budget.clone()));
        Some(trace.map_err(|e| match e {
            TraceError::Relayd(e) => {
                CommandError::Relayd(format!("Unable to connect to lttng-relayd: {e}"))
            }
            e => trace_error(e),
        })?)
    } else {
        None
    };
    let first = fresh.is_some();
    if let Err(refused) = d.sessions.start(&s, fresh) {
        if let Some(unused) = refused.unused {
            // Destroyed (or started) meanwhile: this trace never held data.
            let _ = tokio::task::spawn_blocking(move || unused.destroy()).await;
        }
        return Err(refused.error.into());
    }
    if first {
        crate::command::start_schedule(d, &s);
    } else if let Some(t) = s.trace() {
        t.schedule.changed.notify_one(); // its timer runs again
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
    if let Some(t) = &trace {
        t.schedule.changed.notify_one(); // its timer pauses
    }
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
    let mut archive = None;
    if let Some(trace) = trace {
        // A scheduled rotation under way ends before the last chunk is archived.
        trace.schedule.stop().await;
        path = Some(trace.output_dir().to_path_buf());
        let r = tokio::task::spawn_blocking(move || {
            let loss = trace.destroy()?;
            let last = crate::engine::rotation::archive_last(&trace);
            Ok::<_, crate::engine::trace::TraceError>((loss, last))
        })
        .await;
        match r {
            Ok(Err(e)) => {
                return Err(CommandError::Trace(format!(
                    "session destroyed, but closing its trace failed: {e}"
                )))
            }
            Ok(Ok((loss, last))) => {
                buffers = Some(loss_view(&loss));
                archive = last;
            }
            Err(_) => {}
        }
    }
    Ok(Destroyed {
        session: name,
        report,
        trace: path,
        buffers,
        archive,
    })
}

pub fn list_sessions(d: &Daemon) -> SessionList {
    SessionList {
        sessions: d
            .sessions
            .all()
            .iter()
            .map(|s| {
                let mut v = SessionView::of(s);
                v.relay = s.trace().and_then(|t| t.net_stats());
                v
            })
            .collect(),
    }
}

/// The session, and what its channels lost so far once it has a trace.
pub fn show_session(d: &Daemon, name: &str) -> Result<SessionView, CommandError> {
    let s = d.sessions.get(name)?;
    let mut v = SessionView::of(&s);
    if let Some(trace) = s.trace() {
        v.relay = trace.net_stats();
        // A round trip to the session's consumer thread.
        v.buffers = Some(loss_view(&tokio::task::block_in_place(|| trace.loss())));
    }
    Ok(v)
}
