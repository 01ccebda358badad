//! `rotate`: closes a started session's current trace chunk into an
//! archive while recording goes on (see `engine::rotation`); and the
//! rotation schedules (`enable-rotation`, `disable-rotation`) that the
//! session's schedule task (`command::schedule`) carries out.

use std::sync::Arc;

use crate::command::reply::{Rotated, ScheduleChanged};
use crate::command::CommandError;
use crate::core::rotation::{RotationError, ScheduleError, ScheduleKind, Schedules};
use crate::core::session::Session;
use crate::engine::rotation::RotateError;
use crate::engine::trace::SessionTrace;
use crate::io::state::Daemon;

pub async fn rotate(d: &Daemon, session: Option<String>) -> Result<Rotated, CommandError> {
    let s = d.sessions.resolve(session.as_deref())?;
    rotate_session(&s).await
}

/// One rotation of `s`, on command or on schedule.
pub(crate) async fn rotate_session(s: &Session<SessionTrace>) -> Result<Rotated, CommandError> {
    let c = s.config();
    let refused = |e: RotationError| CommandError::Rotate(RotateError::Refused(e));
    // lttng checks "started once" first, even for a snapshot session.
    let trace = s
        .trace()
        .ok_or_else(|| refused(RotationError::NeverStarted(c.name.clone())))?;
    if c.snapshot.is_some() {
        return Err(refused(RotationError::SnapshotSession(c.name)));
    }
    let active = c.active;
    let (id, archive) =
        tokio::task::spawn_blocking(move || crate::engine::rotation::rotate(&trace, active))
            .await
            .map_err(|e| CommandError::Trace(e.to_string()))??;
    Ok(Rotated {
        session: c.name,
        id,
        archive,
    })
}

/// `enable-rotation` (`set`) or `disable-rotation` of the `kind` schedule
/// (`value`: µs or bytes; to disable, the value set). lttng-sessiond's
/// rules: refused for snapshot and live sessions; one of each kind.
pub async fn set_schedule(
    d: &Daemon,
    session: Option<String>,
    kind: ScheduleKind,
    set: bool,
    value: u64,
) -> Result<ScheduleChanged, CommandError> {
    let s = d.sessions.resolve(session.as_deref())?;
    let schedules = d.sessions.update(&s, |c| {
        let live = c.net.as_ref().is_some_and(|n| n.live_timer_us > 0);
        if c.snapshot.is_some() || live {
            return Ok(Err(ScheduleError::NotAvailable(c.name.clone())));
        }
        let r = if set {
            c.rotation.set(kind, value)
        } else {
            c.rotation.unset(kind, value)
        };
        Ok(r.map(|()| c.rotation))
    })??;
    if let Some(trace) = s.trace() {
        trace.schedule.changed.notify_one();
    }
    tracing::info!(session = %s.config().name, ?kind, set, value, "rotation schedule changed");
    Ok(ScheduleChanged {
        session: s.config().name,
        schedules,
    })
}

/// The schedules of a session (`lttng list S`, `ustd list-rotation`).
pub fn schedules(d: &Daemon, session: Option<String>) -> Result<Schedules, CommandError> {
    Ok(d.sessions.resolve(session.as_deref())?.config().rotation)
}

/// Starts the schedule task of a session that just got its trace.
pub(crate) fn start_schedule(d: &Daemon, s: &Arc<Session<SessionTrace>>) {
    let Some(trace) = s.trace() else { return };
    if s.config().snapshot.is_some() {
        return;
    }
    let task = tokio::spawn(crate::command::schedule::run(
        s.clone(),
        trace.clone(),
        d.shutdown.clone(),
    ));
    trace.schedule.run(task);
}
