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
use crate::io::stream::{map_hangup, write_all, AppIoError};
use crate::wire::field::{EnumEntry, Field};
use crate::wire::notify::{self, EventReg, NotifyRequest, HEADER_LEN};

/// Bytes asked for by each read of a request beyond what is known to be
/// missing: a request (header, body, tail) then comes in one read where the
/// app has sent it whole, instead of one read per part plus one that finds
/// the socket empty (a real app's `start`: 31 requests, 104 reads before).
const READ_AHEAD: usize = 4096;

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

/// One non-blocking read of up to `want` bytes appended to `buf`; 0 when
/// the socket had nothing. A read that leaves the socket drained clears
/// its readiness (tokio clears it only on EAGAIN, unless an event came in
/// since), so the next wait goes to the reactor instead of paying a read
/// that finds nothing.
fn read_some(
    s: &tokio::net::UnixStream,
    buf: &mut Vec<u8>,
    want: usize,
) -> Result<usize, AppIoError> {
    let start = buf.len();
    buf.resize(start + want, 0);
    let mut n = 0;
    let r = s.try_io(tokio::io::Interest::READABLE, || {
        n = rustix::io::read(s, &mut buf[start..])?;
        if n > 0 && n < want {
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        Ok(())
    });
    buf.truncate(start + n);
    match r {
        Ok(()) if n == 0 => Err(AppIoError::Eof),
        Ok(()) => Ok(n),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(n),
        Err(e) => Err(map_hangup(e)),
    }
}

/// Reads until `buf` holds `len` bytes (and maybe more: see [`READ_AHEAD`]).
async fn fill(s: &tokio::net::UnixStream, buf: &mut Vec<u8>, len: usize) -> Result<(), AppIoError> {
    while buf.len() < len {
        s.readable().await?;
        read_some(s, buf, (len - buf.len()).max(READ_AHEAD))?;
    }
    Ok(())
}

/// Requests, once the socket is readable (maybe spuriously: nothing read,
/// nothing done). Once a request's first byte is in, the rest must arrive
/// within the deadline. Every length is checked against its bound
/// (`wire::notify`) before the bytes it announces are waited for. Bytes
/// read past a request's end start the next one, served in turn here
/// (lttng-ust waits for each reply, so it never sends them).
async fn serve_one(d: &Daemon, app: &AppRef, conn: &AppConn) -> Result<(), AppIoError> {
    let s = &conn.notify;
    let mut req = Vec::new();
    if read_some(s, &mut req, READ_AHEAD)? == 0 {
        return Ok(());
    }
    while !req.is_empty() {
        let (cmd, body_end, end) = d
            .deadline
            .run(async {
                fill(s, &mut req, HEADER_LEN).await?;
                let cmd = notify::decode_header(&req[..HEADER_LEN])?;
                let body_end = HEADER_LEN + notify::body_len(cmd)?;
                fill(s, &mut req, body_end).await?;
                let end = body_end + notify::tail_len(cmd, &req[HEADER_LEN..body_end])?;
                fill(s, &mut req, end).await?;
                Ok((cmd, body_end, end))
            })
            .await?;
        let next = req.split_off(end);
        serve_request(
            d,
            app,
            conn,
            cmd,
            &req[HEADER_LEN..body_end],
            &req[body_end..],
        )
        .await?;
        req = next;
    }
    Ok(())
}

/// One request, read whole.
async fn serve_request(
    d: &Daemon,
    app: &AppRef,
    conn: &AppConn,
    cmd: u32,
    body: &[u8],
    tail: &[u8],
) -> Result<(), AppIoError> {
    let s = &conn.notify;
    let reply = match notify::decode_request(cmd, body, tail) {
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
