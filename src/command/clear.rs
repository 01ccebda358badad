//! `clear`: a session's recorded data and its buffers' content are
//! discarded; recording goes on into the same files.

use crate::command::reply::Cleared;
use crate::command::CommandError;
use crate::io::state::Daemon;

/// Clears a session (a session never started has nothing to clear). Runs
/// the consumer round trips on a blocking thread; apps are not contacted.
pub async fn clear(d: &Daemon, session: Option<String>) -> Result<Cleared, CommandError> {
    let s = d.sessions.resolve(session.as_deref())?;
    let name = s.config().name;
    if let Some(trace) = s.trace() {
        tokio::task::spawn_blocking(move || trace.clear())
            .await
            .map_err(|e| CommandError::Trace(e.to_string()))?
            .map_err(|e| CommandError::Trace(e.to_string()))?;
    }
    tracing::info!(session = %name, "cleared");
    Ok(Cleared { session: name })
}
