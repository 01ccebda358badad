//! Accepting apps: read and check each socket's registration, pair command
//! and notify sockets by peer pid, run the handshake, publish.
//!
//! Every accepted socket gets its own task, and every step has the per-app
//! deadline, so a slow, stopped or hostile peer only ever costs its own
//! task: it never delays another app's registration.

use std::sync::Arc;
use std::time::SystemTime;

use tokio::net::{UnixListener, UnixStream};

use crate::core::admission::{Admission, Admitted};
use crate::core::app::{App, AppInfo, Claimed};
use crate::core::fd_budget::FdPermit;
use crate::core::pairing::Offer;
use crate::io::app_conn::{AppConn, AppJob, AppRef, Half, JobReceiver};
use crate::io::app_sync::{sync_all, AppLink, AppShadow, SyncError};
use crate::io::job_queue::JobQueue;
use crate::io::state::Daemon;
use crate::io::stream::{exchange, read_last};

use crate::io::sys;
use crate::wire::cmd::{op, CmdMsg, ROOT_HANDLE};
use crate::wire::reg::{RegMsg, REG_MSG_LEN};

pub async fn accept_loop(d: Arc<Daemon>, listener: UnixListener) {
    loop {
        let (stream, _) = tokio::select! {
            _ = d.shutdown.cancelled() => return,
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(permit) = d.budget.try_acquire(1) else {
            tracing::warn!(
                used = d.budget.used(),
                limit = d.budget.limit(),
                "fd budget exhausted: refusing a new app connection"
            );
            continue; // dropping `stream` closes it
        };
        tokio::spawn(read_registration(d.clone(), stream, permit));
    }
}

async fn read_registration(d: Arc<Daemon>, stream: UnixStream, permit: FdPermit) {
    let mut buf = [0u8; REG_MSG_LEN];
    // lttng-ust sends nothing more on either socket until it gets a command.
    let read = d.deadline.run(read_last(&stream, &mut buf)).await;
    let creds = sys::peer_creds(&stream);
    let peer = creds.as_ref().map(|c| c.pid).unwrap_or(-1);
    if let Err(e) = read {
        tracing::warn!(peer_pid = peer, error = %e, "closing app socket: no registration");
        return;
    }
    let reg = match RegMsg::decode(&buf) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(peer_pid = peer, error = %e, "closing app socket: bad registration");
            return;
        }
    };
    let creds = match creds {
        Ok(c) if c.pid > 0 => c,
        Ok(_) => {
            tracing::warn!(name = %reg.name, "closing app socket: peer is in a foreign pid namespace");
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e, "closing app socket: no peer credentials");
            return;
        }
    };
    let kind = reg.socket_type;
    let pid = creds.pid;
    let (parked_wake, left_table) = tokio::sync::oneshot::channel();
    match d.pairing.offer(
        pid,
        kind,
        Half {
            stream,
            reg,
            creds,
            permit,
            parked_wake: Some(parked_wake),
        },
    ) {
        // Boxed: the handshake and the app's whole life run in this future,
        // and inline it would size every accepted socket's task (the parked
        // halves too) for it: about 6 KiB each instead of a few hundred bytes.
        Offer::Paired { cmd, notify } => Box::pin(complete(d, cmd, notify)).await,
        Offer::Parked { ticket, replaced } => {
            if replaced.is_some() {
                tracing::info!(pid, ?kind, "newer socket replaced a stale unpaired one");
            }
            drop(replaced);
            let expiry = async {
                match d.deadline.0 {
                    Some(t) => tokio::time::sleep(t).await,
                    None => d.shutdown.cancelled().await,
                }
            };
            tokio::select! {
                // Our half left the table: paired or replaced, nothing to withdraw.
                _ = left_table => return,
                () = expiry => {}
            }
            if d.pairing.withdraw(pid, ticket).is_some() {
                tracing::warn!(pid, ?kind, "closing app socket: its counterpart never came");
            }
        }
    }
}

fn app_info(cmd: &Half, notify: &Half, tracer_version: (u32, u32, u32)) -> AppInfo {
    use std::os::fd::AsRawFd;
    let r = &cmd.reg;
    AppInfo {
        creds: cmd.creds,
        claimed: Claimed {
            vpid: r.pid,
            ppid: if r.pid == cmd.creds.pid { r.ppid } else { 0 },
            vuid: r.uid,
            vgid: r.gid,
        },
        name: r.name.clone(),
        bits_per_long: r.bits_per_long,
        alignments: r.alignments,
        abi_major: r.major,
        abi_minor: r.minor,
        tracer_version,
        cmd_key: cmd.stream.as_raw_fd(),
        notify_key: notify.stream.as_raw_fd(),
        registered_at: SystemTime::now(),
    }
}

/// The handshake of a complete pair: TRACER_VERSION, then REGISTER_DONE,
/// then publication. The notify socket is served from the start, since the
/// app may send notify requests while a command waits for its reply.
async fn complete(d: Arc<Daemon>, mut cmd: Half, mut notify: Half) {
    // Release the parked counterpart's task now.
    drop((cmd.parked_wake.take(), notify.parked_wake.take()));
    let version_msg = CmdMsg::simple(ROOT_HANDLE, op::TRACER_VERSION);
    // The version goes into the immutable AppInfo, so ask for it before the
    // shell exists; the notify socket is quiet until the app has a session.
    let version = match exchange(&cmd.stream, d.deadline, &version_msg).await {
        Ok(reply) => reply.tracer_version(),
        Err(e) => {
            tracing::warn!(pid = cmd.creds.pid, error = %e, "handshake failed at TRACER_VERSION");
            return;
        }
    };
    let info = app_info(&cmd, &notify, version);
    let conn = AppConn {
        cmd: cmd.stream,
        notify: notify.stream,
        // Fired by teardown or the daemon's shutdown (see `AppCancel`).
        cancel: Default::default(),
        jobs: JobQueue::default(),
        objects: Default::default(),
        _permits: (cmd.permit, notify.permit),
    };
    let app: AppRef = Arc::new(App::new(
        d.registry.allocate_id(),
        info,
        conn,
        d.reaper.clone(),
    ));
    let Some(lease) = app.lease() else { return };
    let jobs = JobReceiver::new(lease.clone());
    tokio::spawn(crate::io::notify::serve(
        d.clone(),
        app.clone(),
        lease.clone(),
    ));

    // Global update: every started session is applied (and started) before
    // REGISTER_DONE, so the app's first event after main() is recorded.
    let mut shadow = AppShadow::default();
    let link = AppLink {
        app: &app,
        conn: &lease,
        deadline: d.deadline,
    };
    let admission = Admission::begin(&d.sessions);
    // Boxed (see cmd_actor::run): the update's state is only needed now.
    if let Err(e) = Box::pin(sync_all(&d, &link, &mut shadow)).await {
        match &e {
            SyncError::App(io) if e.is_fatal() => {
                return d.hang_up(&app, &lease, "global update", io);
            }
            _ => {
                tracing::warn!(app = app.id.0, pid = app.info.creds.pid, error = %e, "global update incomplete")
            }
        }
    }
    let done = CmdMsg::simple(ROOT_HANDLE, op::REGISTER_DONE);
    if let Err(e) = lease.exchange(d.deadline, &done).await {
        d.hang_up(&app, &lease, "REGISTER_DONE", &e);
        return;
    }
    let admitted = match admission.publish(&d.sessions, &d.registry, &app) {
        Ok(a) => a,
        Err(e) => {
            tracing::info!(app = app.id.0, pid = app.info.creds.pid, error = %e, "app not published");
            lease.cancel.cancel();
            return;
        }
    };
    if d.shutdown.is_cancelled() {
        // Published after the shutdown's sweep of the registry: stop anyway.
        lease.cancel.cancel();
        return;
    }
    let i = &app.info;
    tracing::info!(
        app = app.id.0, pid = i.creds.pid, uid = i.creds.uid, vpid = i.claimed.vpid,
        name = %i.name, bits = i.bits_per_long, "app registered"
    );
    // A configuration change that raced with our global update may have
    // missed us in its fan-out snapshot: catch up (see core::admission).
    if admitted == Admitted::CatchUp {
        let (tx, _rx) = tokio::sync::oneshot::channel();
        let _ = lease.jobs.try_send(Box::new(AppJob::Sync { done: tx }));
    }
    // The actor gets a task of its own, sized for its idle loop; this
    // handshake's state is freed now rather than kept for the app's life.
    drop(lease); // the actor's is the one its `jobs` holds
    tokio::spawn(crate::io::cmd_actor::run(d, app, jobs, shadow));
}
