//! `regenerate metadata`: see [`regenerate_metadata`].
//!
//! `regenerate statedump`: every app in a started session records its
//! statedump events again (lttng-ust's SESSION_STATEDUMP on the app's
//! session handle), through the fan-out, each app within its own deadline.

use crate::command::reply::Applied;
use crate::command::CommandError;
use crate::core::session::BufferScheme;
use crate::io::app_conn::AppJob;
use crate::io::fan_out::fan_out;
use crate::io::state::Daemon;

pub async fn regenerate_statedump(
    d: &Daemon,
    session: Option<String>,
) -> Result<Applied, CommandError> {
    let s = d.sessions.resolve(session.as_deref())?;
    let c = s.config();
    if !c.active {
        return Err(RegenerateError::NotStarted(c.name).into());
    }
    let session_id = s.id;
    let (report, _) = fan_out(d, |done| AppJob::Statedump { session_id, done }).await;
    Ok(Applied {
        session: c.name,
        report,
    })
}

/// Why `regenerate metadata` was refused (lttng-sessiond 2.13.9's checks,
/// in its order).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegenerateError {
    #[error("session `{0}` is a live session: its metadata cannot be regenerated")]
    Live(String),
    #[error("session `{0}` is not started")]
    NotStarted(String),
    #[error("session `{0}` uses per-PID buffers: their metadata cannot be regenerated")]
    PerPid(String),
}

/// `regenerate metadata`: every buffer set's metadata is written again
/// whole, into its emptied metadata file (`SessionTrace::regenerate_metadata`;
/// at a relayd: RESET_METADATA, then the whole text), on a blocking thread;
/// apps are not contacted.
pub async fn regenerate_metadata(
    d: &Daemon,
    session: Option<String>,
) -> Result<Applied, CommandError> {
    let s = d.sessions.resolve(session.as_deref())?;
    let c = s.config();
    if c.net.as_ref().is_some_and(|n| n.live_timer_us > 0) {
        return Err(RegenerateError::Live(c.name).into());
    }
    let trace = match s.trace() {
        Some(t) if c.active => t,
        _ => return Err(RegenerateError::NotStarted(c.name).into()),
    };
    if c.buffer_scheme() == BufferScheme::Pid {
        return Err(RegenerateError::PerPid(c.name).into());
    }
    tokio::task::spawn_blocking(move || trace.regenerate_metadata())
        .await
        .map_err(|e| CommandError::Trace(e.to_string()))?
        .map_err(|e| CommandError::Trace(e.to_string()))?;
    tracing::info!(session = %c.name, "metadata regenerated");
    Ok(Applied {
        session: c.name,
        report: Default::default(),
    })
}
