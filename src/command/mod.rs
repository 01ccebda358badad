//! The typed command layer: one [`Request`] in, one typed [`Reply`] out,
//! carried out by [`execute`] (or the per-command functions behind it).
//!
//! Every front end decodes into these types and renders them: the
//! JSON-lines control protocol (`control`, `io::control_server`) and the
//! `ustd` CLI serialise them with serde; a second protocol adds only its
//! own decoding and encoding. The commands themselves (validation, session
//! transitions, the fan-out to apps) live here and nowhere else.

mod listing;
pub mod reply;
pub mod request;
mod session;

pub use listing::{list_apps, list_tracepoints};
pub use reply::Reply;
pub use request::{ChannelOptions, NetRequest, Request};
pub use session::resolve_net;
pub use session::{
    add_context, create, create_with, destroy, disable_event, enable_channel, enable_event,
    list_sessions, show_session, start, stop,
};

use crate::core::event_filter::EventFilter;
use crate::core::session::SessionError;
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
    /// The relayd of a network session is unreachable or refused it.
    #[error("{0}")]
    Relayd(String),
}

/// Compiles a filter expression into an event rule's filter, as liblttng-ctl
/// does for the lttng CLI (ustd's own front end sends the text).
pub fn compile_filter(expression: &str) -> Result<EventFilter, CommandError> {
    let b = crate::filter::compile(expression).map_err(|e| CommandError::Filter(e.to_string()))?;
    EventFilter::new(expression.to_owned(), b.data, b.reloc_offset)
        .map_err(|e| CommandError::Filter(e.to_string()))
}

/// Carries out one request.
pub async fn execute(d: &Daemon, req: Request) -> Result<Reply, CommandError> {
    Ok(match req {
        Request::ListApps => Reply::Apps(list_apps(d)),
        Request::ListSessions => Reply::Sessions(list_sessions(d)),
        Request::ShowSession { name } => Reply::Session(show_session(d, &name)?),
        Request::CreateSession { name, output, net } => {
            // The control socket is the daemon user's: its sessions are the daemon's.
            let owner = rustix::process::getuid().as_raw();
            let net = match net {
                Some(n) => Some(resolve_net(n).await?),
                None => None,
            };
            Reply::Created(create_with(d, name, output, net, owner).await?)
        }
        Request::DestroySession { name } => Reply::Destroyed(destroy(d, name).await?),
        Request::EnableChannel {
            session,
            name,
            attrs,
        } => Reply::Changed(enable_channel(d, session, name, attrs).await?),
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
        Request::ListTracepoints { fields } => {
            Reply::Tracepoints(list_tracepoints(d, fields).await)
        }
    })
}
