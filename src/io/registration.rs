//! Accepting apps: read and check each socket's registration, pair command
//! and notify sockets by peer pid, run the handshake, publish.
//!
//! Every accepted socket gets its own task, and every step has the per-app
//! deadline, so a slow, stopped or hostile peer only ever costs its own
//! task: it never delays another app's registration.

use std::sync::{Arc, LazyLock};
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
use crate::io::stream::{read_exact, read_last, refusal, write_all, AppIoError, Deadline};

use crate::io::sys;
use crate::wire::cmd::{op, CmdMsg, Reply, REPLY_LEN, ROOT_HANDLE};
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
    let half = Half {
        stream,
        reg,
        creds,
        permit,
        parked_wake: Some(parked_wake),
    };
    // The offer is settled in this one statement, so neither the two
    // halves nor the `Offer` stay in this task's state across the awaits
    // below: every accepted socket's task cell is sized by that state.
    let ticket = match d.pairing.offer(pid, kind, half) {
        // Boxed: the handshake and the app's whole life run in this future,
        // and inline it would size every accepted socket's task (the parked
        // halves too) for it.
        Offer::Paired { cmd, notify } => Err(Box::pin(complete(d.clone(), cmd, notify))),
        Offer::Parked { ticket, replaced } => {
            if replaced.is_some() {
                tracing::info!(pid, ?kind, "newer socket replaced a stale unpaired one");
            }
            Ok(ticket)
        }
    };
    let ticket = match ticket {
        Ok(t) => t,
        Err(handshake) => return handshake.await,
    };
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

fn app_info(cmd: &mut Half, notify: &Half, tracer_version: (u32, u32, u32)) -> AppInfo {
    use std::os::fd::AsRawFd;
    // Taken, not cloned: the registration is not needed after this.
    let name = std::mem::take(&mut cmd.reg.name);
    let r = &cmd.reg;
    AppInfo {
        creds: cmd.creds,
        claimed: Claimed {
            vpid: r.pid,
            ppid: if r.pid == cmd.creds.pid { r.ppid } else { 0 },
            vuid: r.uid,
            vgid: r.gid,
        },
        name,
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

// The handshake's two commands (612 bytes each): static, so they are not
// part of every handshake's future.
static TRACER_VERSION_MSG: LazyLock<CmdMsg> =
    LazyLock::new(|| CmdMsg::simple(ROOT_HANDLE, op::TRACER_VERSION));
static REGISTER_DONE_MSG: LazyLock<CmdMsg> =
    LazyLock::new(|| CmdMsg::simple(ROOT_HANDLE, op::REGISTER_DONE));
static HANDSHAKE_PAIR: LazyLock<Vec<u8>> =
    LazyLock::new(|| [TRACER_VERSION_MSG.bytes, REGISTER_DONE_MSG.bytes].concat());

/// TRACER_VERSION (with REGISTER_DONE if `alone`): the tracer's version,
/// or the command whose exchange failed and why.
async fn handshake(
    s: &UnixStream,
    deadline: Deadline,
    alone: bool,
) -> Result<(u32, u32, u32), (&'static str, AppIoError)> {
    const NAMES: [&str; 2] = ["TRACER_VERSION", "REGISTER_DONE"];
    let (bytes, msgs): (&[u8], &[&CmdMsg]) = match alone {
        true => (&HANDSHAKE_PAIR, &[&TRACER_VERSION_MSG, &REGISTER_DONE_MSG]),
        false => (&TRACER_VERSION_MSG.bytes, &[&TRACER_VERSION_MSG]),
    };
    let at = |i: usize| move |e: AppIoError| (NAMES[i], e);
    deadline.run(write_all(s, bytes)).await.map_err(at(0))?;
    // One reply at a time, one buffer (this future is part of every
    // pair's handshake): a refusal drops the app, so nothing needs reading
    // past it.
    let mut version = (0, 0, 0);
    let mut buf = [0u8; REPLY_LEN];
    for (i, m) in msgs.iter().enumerate() {
        match i + 1 == msgs.len() {
            true => deadline.run(read_last(s, &mut buf)).await,
            false => deadline.run(read_exact(s, &mut buf)).await,
        }
        .map_err(at(i))?;
        let reply = Reply::decode_for(&buf, m).map_err(|e| at(i)(e.into()))?;
        if let Some(e) = refusal(m, &reply) {
            return Err(at(i)(e));
        }
        if i == 0 {
            version = reply.tracer_version();
        }
    }
    Ok(version)
}

/// The handshake of a complete pair: TRACER_VERSION, the global update,
/// REGISTER_DONE, then publication. The notify socket is served from the start, since the
/// app may send notify requests while a command waits for its reply.
async fn complete(d: Arc<Daemon>, mut cmd: Half, mut notify: Half) {
    // Release the parked counterpart's task now.
    drop((cmd.parked_wake.take(), notify.parked_wake.take()));
    let admission = Admission::begin(&d.sessions);
    // The version goes into the immutable AppInfo, so ask for it before the
    // shell exists; the notify socket is quiet until the app has a session.
    // With no session to apply first, REGISTER_DONE needs nothing from
    // that reply and goes out with it: one round trip for the handshake (a
    // session created meanwhile bumped the generation: the app catches up).
    let alone = d.sessions.all().is_empty();
    let version = match handshake(&cmd.stream, d.deadline, alone).await {
        Ok(v) => v,
        Err((step, e)) => {
            tracing::warn!(pid = cmd.creds.pid, error = %e, "handshake failed at {step}");
            return;
        }
    };
    let info = app_info(&mut cmd, &notify, version);
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
    // Boxed (see cmd_actor::run): the update's state is only needed now.
    let update = match alone {
        true => Ok(()),
        false => Box::pin(sync_all(&d, &link, &mut shadow)).await,
    };
    if let Err(e) = update {
        match &e {
            SyncError::App(io) if e.is_fatal() => {
                return d.hang_up(&app, &lease, "global update", io);
            }
            _ => {
                tracing::warn!(app = app.id.0, pid = app.info.creds.pid, error = %e, "global update incomplete")
            }
        }
    }
    if !alone {
        if let Err(e) = lease.exchange(d.deadline, &REGISTER_DONE_MSG).await {
            d.hang_up(&app, &lease, "REGISTER_DONE", &e);
            return;
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::app::PeerCreds;
    use crate::core::fd_budget::FdBudget;
    use crate::core::pairing::Pairing;
    use crate::core::registry::AppRegistry;
    use crate::core::session::Sessions;
    use crate::io::paths::Paths;
    use crate::io::stream::Deadline;
    use crate::wire::reg::SocketType;

    fn daemon(dir: &std::path::Path) -> Arc<Daemon> {
        Arc::new(Daemon {
            registry: AppRegistry::new(),
            pairing: Pairing::new(),
            budget: FdBudget::new(16),
            deadline: Deadline(Some(std::time::Duration::from_secs(5))),
            reaper: std::sync::mpsc::channel().0,
            shutdown: Default::default(),
            paths: Paths::resolve(Some(dir)).expect("paths"),
            sessions: Sessions::new(),
        })
    }

    fn half(d: &Daemon, socket_type: SocketType) -> Half {
        let (a, _) = std::os::unix::net::UnixStream::pair().expect("socketpair");
        a.set_nonblocking(true).expect("nonblocking");
        Half {
            stream: UnixStream::from_std(a).expect("register"),
            reg: RegMsg {
                major: 10,
                minor: 0,
                pid: 1,
                ppid: 0,
                uid: 0,
                gid: 0,
                bits_per_long: 64,
                alignments: [8, 16, 32, 64, 64],
                socket_type,
                name: "app".into(),
            },
            creds: PeerCreds {
                pid: 1,
                uid: 0,
                gid: 0,
            },
            permit: d.budget.try_acquire(1).expect("permit"),
            parked_wake: None,
        }
    }

    /// Every accepted socket's task, and every pair's boxed handshake, is
    /// held at once by each registration in flight: in a storm of
    /// thousands their sizes are the daemon's transient memory, and the
    /// holes they leave in the heap its RSS after the storm (a task cell
    /// is its future plus 96 bytes, rounded up to 128). Before the cut
    /// (heaptrack): a 1,408-byte task cell and a 3,592-byte box, plus a
    /// 3,048-byte box for an empty global update (the settled `Offer` was
    /// kept across the awaits, the two 612-byte commands were inline).
    /// Now 688 (a 896-byte cell) and 1,648 bytes.
    #[tokio::test]
    async fn registration_futures_stay_small() {
        let dir = std::env::temp_dir().join(format!("ustd-reg-size-{}", std::process::id()));
        let d = daemon(&dir);
        let h = half(&d, SocketType::Cmd);
        let read = read_registration(d.clone(), h.stream, h.permit);
        let read_size = std::mem::size_of_val(&read);
        assert!(
            read_size <= 800,
            "read_registration future: {read_size} bytes"
        );
        let handshake = complete(
            d.clone(),
            half(&d, SocketType::Cmd),
            half(&d, SocketType::Notify),
        );
        let handshake_size = std::mem::size_of_val(&handshake);
        assert!(
            handshake_size <= 1664,
            "handshake future: {handshake_size} bytes"
        );
    }
}
