//! `rotate`: closes a started session's current trace chunk into an
//! archive while recording goes on (see `engine::rotation`).

use crate::command::reply::Rotated;
use crate::command::CommandError;
use crate::core::rotation::RotationError;
use crate::engine::rotation::RotateError;
use crate::io::state::Daemon;

pub async fn rotate(d: &Daemon, session: Option<String>) -> Result<Rotated, CommandError> {
    let s = d.sessions.resolve(session.as_deref())?;
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
