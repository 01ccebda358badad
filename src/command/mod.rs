//! The typed command layer: one [`Request`] in, one typed [`Reply`] out,
//! carried out by [`execute`] (or the per-command functions behind it).
//!
//! Every front end decodes into these types and renders them: the
//! JSON-lines control protocol (`control`, `io::control_server`) and the
//! `ustd` CLI serialise them with serde; a second protocol adds only its
//! own decoding and encoding. The commands themselves (validation, session
//! transitions, the fan-out to apps) live here and nowhere else.

mod clear;
mod listing;
mod regenerate;
pub mod reply;
pub mod request;
mod rotate;
mod schedule;
mod session;
pub mod snapshot;
pub mod tracker;

pub use clear::clear;
pub use listing::{list_apps, list_tracepoints};
pub use regenerate::{regenerate_metadata, regenerate_statedump, RegenerateError};
pub use reply::Reply;
pub use request::{ChannelOptions, NetRequest, Request, TrackInput};
pub use rotate::{rotate, schedules, set_schedule};
pub(crate) use rotate::{rotate_session, start_schedule};
pub use session::resolve_net;
pub use session::{
    add_context, create, create_with, destroy, disable_channel, disable_event, enable_channel,
    enable_event, list_sessions, show_session, start, stop,
};
pub use tracker::{set_tracker_policy, track, tracker_add, tracker_remove, untrack};

use crate::core::event_filter::EventFilter;
use crate::core::rotation::{ScheduleError, ScheduleKind};
use crate::core::session::SessionError;
use crate::core::snapshot::Destination;
use crate::io::state::Daemon;

/// Why a command was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The trace (buffers, consumer, output files) could not be set up or
    /// closed.
    #[error("{0}")]
    Trace(String),
    /// A filter expression that does not compile (the message names the
    /// position).
    #[error("{0}")]
    Filter(String),
    #[error("user `{0}` was not found")]
    UserNotFound(String),
    #[error("group `{0}` was not found")]
    GroupNotFound(String),
    /// Not a process id, user or group id (or a name for a process id).
    #[error("invalid tracker value `{0}`")]
    BadTrackerValue(String),
    #[error(transparent)]
    Snapshot(#[from] crate::core::snapshot::SnapshotError),
    /// The relayd of a network session is unreachable or refused it.
    #[error("{0}")]
    Relayd(String),
    #[error(transparent)]
    Rotate(#[from] crate::engine::rotation::RotateError),
    #[error(transparent)]
    Schedule(#[from] crate::core::rotation::ScheduleError),
    #[error(transparent)]
    Regenerate(#[from] RegenerateError),
    /// The session owner may not create the output directory.
    #[error("{0}")]
    CreateDir(String),
}

/// Compiles a filter expression into an event rule's filter, as liblttng-ctl
/// does for the lttng CLI (ustd's own front end sends the text).
pub fn compile_filter(expression: &str) -> Result<EventFilter, CommandError> {
    let b = crate::filter::compile(expression).map_err(|e| CommandError::Filter(e.to_string()))?;
    EventFilter::new(expression.to_owned(), b.data, b.reloc_offset)
        .map_err(|e| CommandError::Filter(e.to_string()))
}

/// The daemon's own (uid, gid): the owner of sessions made on its control socket.
fn daemon_user() -> (u32, u32) {
    (
        rustix::process::getuid().as_raw(),
        rustix::process::getgid().as_raw(),
    )
}

/// Carries out one request.
pub async fn execute(d: &Daemon, req: Request) -> Result<Reply, CommandError> {
    Ok(match req {
        Request::ListApps => Reply::Apps(list_apps(d)),
        Request::ListSessions => Reply::Sessions(list_sessions(d)),
        Request::ShowSession { name } => Reply::Session(show_session(d, &name)?),
        Request::CreateSession {
            name,
            output,
            snapshot: false,
            net,
        } => {
            // The control socket is the daemon user's: its sessions are the daemon's.
            let owner = daemon_user();
            let net = match net {
                Some(n) => Some(resolve_net(n).await?),
                None => None,
            };
            Reply::Created(create_with(d, name, output, net, owner).await?)
        }
        Request::CreateSession {
            name,
            output,
            snapshot: true,
            net,
        } => {
            let owner = daemon_user();
            let dest = match net {
                Some(n) => Some(Destination::Net(resolve_net(n).await?)),
                None => output.map(Destination::Path),
            };
            Reply::Created(snapshot::create_snapshot_session(d, name, dest, owner).await?)
        }
        Request::RegenerateStatedump { session } => {
            Reply::Changed(regenerate_statedump(d, session).await?)
        }
        Request::RegenerateMetadata { session } => {
            Reply::Changed(regenerate_metadata(d, session).await?)
        }
        Request::Clear { session } => Reply::Cleared(clear(d, session).await?),
        Request::Rotate { session } => Reply::Rotated(rotate(d, session).await?),
        Request::EnableRotation {
            session,
            timer_us,
            size,
        } => {
            let mut last = None;
            for (kind, v) in [(ScheduleKind::Timer, timer_us), (ScheduleKind::Size, size)] {
                if let Some(v) = v {
                    last = Some(set_schedule(d, session.clone(), kind, true, v).await?);
                }
            }
            Reply::ScheduleChanged(last.ok_or_else(|| {
                SessionError::Invalid("no rotation schedule given (timer or size)".into())
            })?)
        }
        Request::DisableRotation {
            session,
            timer,
            size,
        } => {
            let now = schedules(d, session.clone())?;
            let mut last = None;
            for (kind, wanted, v) in [
                (ScheduleKind::Timer, timer, now.timer_us),
                (ScheduleKind::Size, size, now.size),
            ] {
                if wanted {
                    let v = v.ok_or(ScheduleError::NotSet(kind))?;
                    last = Some(set_schedule(d, session.clone(), kind, false, v).await?);
                }
            }
            Reply::ScheduleChanged(last.ok_or_else(|| {
                SessionError::Invalid("no rotation schedule type given (timer or size)".into())
            })?)
        }
        Request::SnapshotAddOutput {
            session,
            name,
            max_size,
            path,
        } => {
            let dest = snapshot::destination(&path.to_string_lossy(), None).await?;
            Reply::SnapshotOutput(snapshot::add_output(d, session, name, max_size, dest)?)
        }
        Request::SnapshotDelOutput { session, id, name } => {
            Reply::SnapshotOutput(snapshot::del_output(d, session, id, &name)?)
        }
        Request::SnapshotListOutputs { session } => {
            Reply::SnapshotOutputs(snapshot::list_outputs(d, session)?)
        }
        Request::SnapshotRecord {
            session,
            name,
            max_size,
            path,
        } => {
            let dest = match path {
                Some(p) => Some(snapshot::destination(&p.to_string_lossy(), None).await?),
                None => None,
            };
            Reply::SnapshotRecorded(snapshot::record(d, session, name, max_size, dest).await?)
        }
        Request::DestroySession { name } => Reply::Destroyed(destroy(d, name).await?),
        Request::EnableChannel {
            session,
            name,
            attrs,
        } => Reply::Changed(enable_channel(d, session, name, attrs).await?),
        Request::DisableChannel { session, names } => {
            Reply::Changed(disable_channel(d, session, names).await?)
        }
        Request::EnableEvent {
            session,
            channel,
            patterns,
            loglevel,
            filter,
            exclusions,
        } => {
            let filter = filter.as_deref().map(compile_filter).transpose()?;
            Reply::Changed(
                enable_event(d, session, channel, patterns, loglevel, filter, exclusions).await?,
            )
        }
        Request::DisableEvent {
            session,
            channel,
            patterns,
        } => Reply::Changed(disable_event(d, session, channel, patterns).await?),
        Request::AddContext {
            session,
            channel,
            types,
        } => Reply::Changed(add_context(d, session, channel, types).await?),
        Request::Start { session } => Reply::Started(start(d, session).await?),
        Request::Stop { session } => Reply::Stopped(stop(d, session).await?),
        Request::Track {
            session,
            attr,
            values,
        } => Reply::Changed(track(d, session, attr, values).await?),
        Request::Untrack {
            session,
            attr,
            values,
        } => Reply::Changed(untrack(d, session, attr, values).await?),
        Request::ListTracepoints { fields } => {
            Reply::Tracepoints(list_tracepoints(d, fields).await)
        }
    })
}
