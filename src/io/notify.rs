//! Serving an app's notify socket.
//!
//! The notify socket is read continuously by its own task, independently of
//! the command actor: lttng-ust sends notify requests from inside a command
//! (ENABLE of a session registers its channels and events) and waits for
//! the answer before replying to the command. Every request gets a reply:
//! an error reply when it cannot be served, never silence.

use std::sync::Arc;

use crate::core::app::Lease;
use crate::io::app_conn::{AppConn, AppRef};
use crate::io::daemon::Daemon;
use crate::io::stream::{read_exact, write_all, AppIoError};
use crate::wire::notify::{self, NotifyRequest, HEADER_LEN};

pub async fn serve(d: Arc<Daemon>, app: AppRef, lease: Arc<Lease<AppConn>>) {
    tokio::select! {
        _ = lease.cancel.cancelled() => {}
        why = serve_requests(&d, &app, &lease) => d.hang_up(&app, &lease, "notify socket", &why),
    }
}

/// Loops over requests until the socket fails; returns why.
async fn serve_requests(d: &Daemon, app: &AppRef, conn: &AppConn) -> AppIoError {
    loop {
        match serve_one(d, app, conn).await {
            Ok(()) => {}
            Err(e) => return e,
        }
    }
}

async fn serve_one(d: &Daemon, app: &AppRef, conn: &AppConn) -> Result<(), AppIoError> {
    let s = &conn.notify;
    // Idle notify sockets are normal: wait for a header without a deadline.
    let mut hdr = [0u8; HEADER_LEN];
    read_exact(s, &mut hdr).await?;
    let cmd = notify::decode_header(&hdr)?;
    // Boxed: the idle wait above is this task's usual state, so only it
    // should size the task (one notify task per app).
    Box::pin(serve_request(d, app, conn, cmd)).await
}

/// The rest of one request, once its header is in.
async fn serve_request(
    d: &Daemon,
    app: &AppRef,
    conn: &AppConn,
    cmd: u32,
) -> Result<(), AppIoError> {
    let s = &conn.notify;
    // Once a request has started, the rest must arrive within the deadline.
    let mut body = vec![0u8; notify::body_len(cmd)?];
    d.deadline.run(read_exact(s, &mut body)).await?;
    let mut tail = vec![0u8; notify::tail_len(cmd, &body)?];
    d.deadline.run(read_exact(s, &mut tail)).await?;
    let reply = match notify::decode_request(cmd, &body, &tail) {
        Ok(req) => crate::io::app_sync::handle_notify(d, app, req),
        Err(e) => {
            // The framing was intact (lengths passed their bounds) but the
            // content is not: refuse this request, keep the app.
            tracing::warn!(app = app.id.0, pid = app.info.creds.pid, error = %e, "malformed notify request");
            notify::error_reply(cmd, -(crate::wire::cmd::ust_err::INVAL))?
        }
    };
    d.deadline.run(write_all(s, &reply)).await
}

/// Describes a request for logs.
pub fn describe(req: &NotifyRequest) -> String {
    match req {
        NotifyRequest::Event(e) => format!("register event `{}`", e.name),
        NotifyRequest::Channel(c) => format!("register channel (objd {})", c.channel_objd),
        NotifyRequest::Enum(e) => format!("register enum `{}`", e.name),
    }
}
