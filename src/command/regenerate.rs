//! `regenerate statedump`: every app in a started session records its
//! statedump events again (lttng-ust's SESSION_STATEDUMP on the app's
//! session handle), through the fan-out, each app within its own deadline.

use crate::command::reply::Applied;
use crate::command::CommandError;
use crate::core::session::SessionError;
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
        return Err(SessionError::NotActive(c.name).into());
    }
    let session_id = s.id;
    let (report, _) = fan_out(d, |done| AppJob::Statedump { session_id, done }).await;
    Ok(Applied {
        session: c.name,
        report,
    })
}
