//! Serving an app's notify socket.
//!
//! The notify socket is read continuously by its own task, independently of
//! the command actor: lttng-ust sends notify requests from inside a command
//! (ENABLE of a session registers its channels and events) and waits for
//! the answer before replying to the command. Every request gets a reply:
//! an error reply when it cannot be served, never silence.

use std::sync::Arc;

use crate::core::app::Lease;
use crate::engine::trace::SessionTrace;
use crate::io::app_conn::{AppConn, AppRef, ObjRef};
use crate::io::state::Daemon;
use crate::io::stream::{read_exact, write_all, AppIoError};
use crate::wire::cmd::ust_err;
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
        Ok(req) => handle_notify(d, app, req),
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

/// Answers one notify request from the registry of the session the named
/// objects belong to. Anything unknown — including a session or channel
/// being torn down — gets an error reply, never silence.
pub fn handle_notify(d: &Daemon, app: &AppRef, req: NotifyRequest) -> Vec<u8> {
    let cmd = req.notify_cmd();
    match dispatch(d, app, &req) {
        Ok(reply) => reply,
        Err(e) => {
            tracing::debug!(
                app = app.id.0,
                pid = app.info.creds.pid,
                "refusing {}: {e}",
                describe(&req)
            );
            notify::error_reply(cmd, e.ret_code()).unwrap_or_default()
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("no such session or channel object")]
    UnknownObject,
    #[error("session is being torn down")]
    Gone,
    #[error(transparent)]
    Registry(#[from] crate::engine::trace::TraceError),
}

impl NotifyError {
    fn ret_code(&self) -> i32 {
        match self {
            NotifyError::UnknownObject | NotifyError::Gone => -ust_err::NOENT,
            NotifyError::Registry(e) => e.ret_code(),
        }
    }
}

fn lookup(
    d: &Daemon,
    app: &AppRef,
    handle: u32,
) -> Result<(ObjRef, Arc<SessionTrace>), NotifyError> {
    let lease = app.lease().ok_or(NotifyError::Gone)?;
    let obj = crate::sync::lock(&lease.objects)
        .get(handle)
        .ok_or(NotifyError::UnknownObject)?;
    let session_id = match obj {
        ObjRef::Session { session_id } | ObjRef::Channel { session_id, .. } => session_id,
    };
    let trace = d.trace(session_id).ok_or(NotifyError::Gone)?;
    Ok((obj, trace))
}

fn channel_of(
    d: &Daemon,
    app: &AppRef,
    handle: u32,
) -> Result<(u32, u32, Arc<SessionTrace>), NotifyError> {
    match lookup(d, app, handle)? {
        (ObjRef::Channel { chan_key, gen, .. }, trace) => Ok((chan_key, gen, trace)),
        _ => Err(NotifyError::UnknownObject),
    }
}

/// Writes what a registration appended to the metadata, off the notify path
/// (the reply does not wait for the consumer), unless a push already
/// queued for the set will carry it.
fn schedule_push(app: &AppRef, trace: Arc<SessionTrace>) {
    if !trace.request_push(&app.info, app.id) {
        return;
    }
    let (info, id) = (app.info.clone(), app.id);
    tokio::task::spawn_blocking(move || {
        if let Err(e) = trace.push_for(&info, id) {
            tracing::warn!(app = id.0, error = %e, "metadata push failed");
        }
    });
}

fn dispatch(d: &Daemon, app: &AppRef, req: &NotifyRequest) -> Result<Vec<u8>, NotifyError> {
    let (info, id) = (&app.info, app.id);
    match req {
        NotifyRequest::Channel(c) => {
            let (chan_key, gen, trace) = channel_of(d, app, c.channel_objd)?;
            let (chan_id, header) =
                trace.register_channel(info, id, chan_key, gen, &c.ctx_fields)?;
            schedule_push(app, trace);
            Ok(notify::encode_channel_reply(0, chan_id, header.wire_value()).to_vec())
        }
        NotifyRequest::Event(e) => {
            let (chan_key, gen, trace) = channel_of(d, app, e.channel_objd)?;
            let event_id = trace.register_event(info, id, chan_key, gen, e)?;
            schedule_push(app, trace);
            Ok(notify::encode_event_reply(0, event_id).to_vec())
        }
        NotifyRequest::Enum(e) => {
            let (_, trace) = lookup(d, app, e.session_objd)?;
            let enum_id = trace.register_enum(info, id, &e.name, &e.entries)?;
            Ok(notify::encode_enum_reply(0, enum_id).to_vec())
        }
    }
}
