//! Per-app session state and the notify requests that refer to it.

use crate::io::app_conn::AppRef;
use crate::io::daemon::Daemon;
use crate::wire::notify::{self, NotifyRequest};

/// Answers one notify request. Requests naming objects the app does not
/// have in any session (or a session being torn down) get an error reply.
pub fn handle_notify(_d: &Daemon, app: &AppRef, req: NotifyRequest) -> Vec<u8> {
    let cmd = req.notify_cmd();
    tracing::debug!(
        app = app.id.0,
        "refusing {}: no such session object",
        crate::io::notify::describe(&req)
    );
    notify::error_reply(cmd, -(crate::wire::cmd::ust_err::NOENT)).unwrap_or_default()
}
