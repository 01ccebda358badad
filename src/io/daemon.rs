//! Daemon lifecycle: claim the rundir, bind the sockets, announce ourselves
//! through the wait shm, serve, and shut down cleanly.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UnixListener;
use tokio_util::sync::CancellationToken;

use crate::core::fd_budget::FdBudget;
use crate::core::pairing::Pairing;
use crate::core::registry::AppRegistry;
use crate::core::session::Sessions;
use crate::io::paths::Paths;
use crate::io::state::Daemon;
use crate::io::stream::Deadline;
use crate::io::wait_shm::WaitShm;
use crate::io::{control_server, lttng_client, lttng_front, reaper::Reaper, registration, sys};

/// fds kept back from the budget for the daemon's own files and sockets.
const FD_RESERVE: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{0}")]
    Config(String),
    #[error("another ustd daemon already runs on {rundir} (lock {lock} is held)")]
    AlreadyRunning { rundir: PathBuf, lock: PathBuf },
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> DaemonError {
    let path = path.to_path_buf();
    move |source| DaemonError::Io { what, path, source }
}

#[derive(Debug, Default)]
pub struct DaemonOptions {
    pub rundir: Option<PathBuf>,
    /// `--daemonize`: written to once every socket listens.
    pub ready: Option<std::os::fd::OwnedFd>,
}

/// Takes the rundir's lock, so a second daemon on it refuses to start.
fn claim_rundir(paths: &Paths) -> Result<File, DaemonError> {
    let dir = &paths.rundir;
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(io_err("create", dir))?;
        let mode = if paths.global { 0o755 } else { 0o700 };
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
            .map_err(io_err("chmod", dir))?;
    }
    let lock_path = paths.lock_file();
    let lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&lock_path)
        .map_err(io_err("open", &lock_path))?;
    match rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => {
            return Err(DaemonError::AlreadyRunning {
                rundir: dir.clone(),
                lock: lock_path,
            })
        }
        Err(e) => return Err(io_err("lock", &lock_path)(e.into())),
    }
    let _ = lock.set_len(0);
    let _ = std::io::Write::write_all(&mut &lock, format!("{}\n", std::process::id()).as_bytes());
    Ok(lock)
}

fn bind(path: &Path, mode: u32) -> Result<UnixListener, DaemonError> {
    // We hold the rundir lock, so whatever socket file is here is stale.
    let _ = std::fs::remove_file(path);
    let l = UnixListener::bind(path).map_err(io_err("bind", path))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(io_err("chmod", path))?;
    Ok(l)
}

/// Restricts the control socket to the daemon's user, plus group `tracing`
/// for a root daemon (as lttng does).
fn restrict_control(path: &Path, global: bool) {
    if !global {
        return;
    }
    let Ok(group) = std::fs::read_to_string("/etc/group") else {
        return;
    };
    let gid = group.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next() == Some("tracing"))
            .then(|| f.nth(1)?.parse::<u32>().ok())
            .flatten()
    });
    if let Some(gid) = gid {
        if std::os::unix::fs::chown(path, None, Some(gid)).is_ok() {
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660));
        }
    }
}

/// App sockets the daemon may hold: RLIMIT_NOFILE minus a reserve for its
/// own files, or `USTD_FD_BUDGET` when set (never above that).
fn fd_budget(fd_limit: usize) -> Result<usize, DaemonError> {
    let max = fd_limit.saturating_sub(FD_RESERVE);
    match std::env::var("USTD_FD_BUDGET") {
        Err(_) => Ok(max),
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) => Ok(n.min(max)),
            Err(_) => Err(DaemonError::Config(format!(
                "USTD_FD_BUDGET={v:?} is not a number"
            ))),
        },
    }
}

/// Runs the daemon until SIGINT or SIGTERM.
pub fn run(opts: DaemonOptions) -> Result<(), DaemonError> {
    crate::ustctl::block_rt_signals().map_err(io_err("block signals in", Path::new("main")))?;
    let paths = Paths::resolve(opts.rundir.as_deref()).map_err(DaemonError::Config)?;
    let _lock = claim_rundir(&paths)?;
    let fd_limit = sys::raise_nofile_limit();
    let budget = FdBudget::new(fd_budget(fd_limit)?);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ustd-worker")
        .build()
        .map_err(io_err("start runtime for", &paths.rundir))?;
    let reaper =
        Reaper::spawn(rt.handle().clone()).map_err(io_err("spawn reaper for", &paths.rundir))?;
    let daemon = Arc::new(Daemon {
        registry: AppRegistry::new(),
        pairing: Pairing::new(),
        budget,
        deadline: Deadline::from_env(),
        reaper: reaper.tx.clone(),
        shutdown: CancellationToken::new(),
        paths: paths.clone(),
        sessions: Sessions::new(),
    });

    let weak = Arc::downgrade(&daemon);
    reaper.on_app_gone(move |app| {
        if let Some(d) = weak.upgrade() {
            for t in d.sessions.traces() {
                t.app_left(app);
            }
        }
    });
    let result = rt.block_on(serve(daemon.clone(), opts.ready));

    // Stop every task (their leases drop), then let the reaper finish.
    rt.shutdown_timeout(Duration::from_secs(2));
    drop(daemon.pairing.drain());
    // Sessions still open at shutdown keep their data: flush, final
    // metadata push, close.
    for t in daemon.sessions.take_traces() {
        if let Err(e) = t.destroy() {
            tracing::warn!(dir = %t.output_dir().display(), error = %e, "trace not closed cleanly at shutdown");
        }
    }
    drop(daemon);
    reaper.join();
    result
}

async fn serve(d: Arc<Daemon>, ready: Option<std::os::fd::OwnedFd>) -> Result<(), DaemonError> {
    let p = &d.paths;
    let app_listener = bind(&p.app_socket(), 0o666)?;
    let ctl_path = p.control_socket();
    let ctl_listener = bind(&ctl_path, 0o600)?;
    restrict_control(&ctl_path, p.global);
    // Where liblttng-ctl looks: the stock `lttng` CLI drives this daemon.
    let client_path = p.rundir.join(lttng_client::CLIENT_SOCKET);
    let client_listener = bind(&client_path, 0o660)?;
    restrict_control(&client_path, p.global);
    let shm = WaitShm::open(&p.wait_shm, p.global)
        .map_err(io_err("open wait shm", Path::new(&p.wait_shm)))?;

    tokio::spawn(registration::accept_loop(d.clone(), app_listener));
    tokio::spawn(control_server::serve(d.clone(), ctl_listener));
    let front = Arc::new(lttng_front::LttngFront { d: d.clone() });
    tokio::spawn(lttng_client::serve(
        client_listener,
        front,
        d.shutdown.clone(),
    ));
    tokio::spawn(crate::io::stall_watch::run(Arc::downgrade(&d)));
    let woken = shm
        .announce()
        .map_err(io_err("wake apps through", Path::new(&p.wait_shm)))?;
    tracing::info!(
        rundir = %p.rundir.display(), wait_shm = %p.wait_shm, woken,
        fd_budget = d.budget.limit(), "ustd daemon ready"
    );
    if let Some(fd) = ready {
        crate::io::daemonize::announce_ready(fd);
    }

    wait_for_signal().await;
    tracing::info!("shutting down");
    shm.withdraw();
    d.shutdown.cancel();
    for app in d.registry.snapshot() {
        if let Some(lease) = app.lease() {
            lease.cancel.cancel();
        }
        d.registry.unregister(&app);
    }
    let _ = std::fs::remove_file(p.app_socket());
    let _ = std::fs::remove_file(&ctl_path);
    let _ = std::fs::remove_file(&client_path);
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::error!("cannot install signal handlers; stopping");
        return;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}
