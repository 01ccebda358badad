//! Serving an app's notify socket.
//!
//! The notify socket is read continuously by its own task, independently of
//! the command actor: lttng-ust sends notify requests from inside a command
//! (ENABLE of a session registers its channels and events) and waits for
//! the answer before replying to the command. Every request gets a reply:
//! an error reply when it cannot be served, never silence.

use std::sync::Arc;

use crate::core::app::{AppId, AppInfo, Lease};
use crate::core::metadata::HeaderType;
use crate::core::notify::{self as core_notify, NotifyTarget};
use crate::engine::trace::{SessionTrace, TraceError};
use crate::io::app_conn::{AppConn, AppRef};
use crate::io::state::Daemon;
use crate::io::stream::{map_hangup, read_exact, write_all, AppIoError};
use crate::wire::field::{EnumEntry, Field};
use crate::wire::notify::{self, EventReg, NotifyRequest, HEADER_LEN};

pub async fn serve(d: Arc<Daemon>, app: AppRef, lease: Arc<Lease<AppConn>>) {
    loop {
        let served = tokio::select! {
            _ = lease.cancel.cancelled() => return,
            r = next_request(&d, &app, &lease) => r,
        };
        if let Err(why) = served {
            return d.hang_up(&app, &lease, "notify socket", &why);
        }
    }
}

/// Waits for the next request, then serves it. Idle notify sockets are
/// normal: the wait has no deadline. Only that wait sizes this task (one per
/// app); the request's state is boxed.
async fn next_request(d: &Daemon, app: &AppRef, conn: &AppConn) -> Result<(), AppIoError> {
    conn.notify.readable().await?;
    Box::pin(serve_one(d, app, conn)).await
}

/// One request, once the socket is readable (maybe spuriously: nothing
/// read, nothing done). Once its first byte is in, the rest of the request
/// must arrive within the deadline.
async fn serve_one(d: &Daemon, app: &AppRef, conn: &AppConn) -> Result<(), AppIoError> {
    let s = &conn.notify;
    let mut hdr = [0u8; HEADER_LEN];
    let got = match s.try_read(&mut hdr) {
        Ok(0) => return Err(AppIoError::Eof),
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
        Err(e) => return Err(map_hangup(e)),
    };
    d.deadline.run(read_exact(s, &mut hdr[got..])).await?;
    let cmd = notify::decode_header(&hdr)?;
    serve_request(d, app, conn, cmd).await
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
/// objects belong to (`core::notify::dispatch`). Anything unknown, including
/// a session or channel being torn down, gets an error reply, never silence.
pub fn handle_notify(d: &Daemon, app: &AppRef, req: NotifyRequest) -> Vec<u8> {
    match core_notify::dispatch(app, &req, |session_id| d.trace(session_id)) {
        Ok(answer) => {
            if let Some(trace) = answer.push {
                schedule_push(app, trace);
            }
            answer.reply
        }
        Err(e) => {
            tracing::debug!(
                app = app.id.0,
                pid = app.info.creds.pid,
                "refusing {}: {e}",
                describe(&req)
            );
            core_notify::error_reply(&req, &e, TraceError::ret_code)
        }
    }
}

impl NotifyTarget for SessionTrace {
    type Error = TraceError;

    fn ret_code(e: &TraceError) -> i32 {
        e.ret_code()
    }

    fn register_channel(
        &self,
        app: &AppInfo,
        id: AppId,
        chan_key: u32,
        gen: u32,
        ctx: &[Field],
    ) -> Result<(u32, HeaderType), TraceError> {
        SessionTrace::register_channel(self, app, id, chan_key, gen, ctx)
    }

    fn register_event(
        &self,
        app: &AppInfo,
        id: AppId,
        chan_key: u32,
        gen: u32,
        ev: &EventReg,
    ) -> Result<u32, TraceError> {
        SessionTrace::register_event(self, app, id, chan_key, gen, ev)
    }

    fn register_enum(
        &self,
        app: &AppInfo,
        id: AppId,
        name: &str,
        entries: &[EnumEntry],
    ) -> Result<u64, TraceError> {
        SessionTrace::register_enum(self, app, id, name, entries)
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
    // At most PUSHES on the blocking pool at once; the others wait as
    // parked tasks. Each push waits on the consumer thread, and per-PID
    // churn (one set, so one push, per app) otherwise kept one blocking
    // thread per waiting push: a 180 s per-PID soak grew the daemon from
    // 149 to 290 threads. The gate meanwhile coalesces later requests.
    tokio::spawn(async move {
        static PUSHES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);
        // Never closed: an error cannot happen, and would only lift the bound.
        // Held here, not in the closure, until the blocking thread is done
        // with it: released inside, it let the next push reach the pool
        // before that thread was idle again, and the pool grew a thread.
        let _permit = PUSHES.acquire().await.ok();
        let _ = tokio::task::spawn_blocking(move || {
            if let Err(e) = trace.push_for(&info, id) {
                tracing::warn!(app = id.0, error = %e, "metadata push failed");
            }
        })
        .await;
    });
}
