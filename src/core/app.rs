//! One registered application: its identity (the *shell*) and its connection
//! resources (the *conn*), which have different lifetimes.
//!
//! # Two lifetimes
//!
//! The shell ([`App`]) sits in the registry maps as an `Arc<App<C>>`. It is
//! reclaimed whenever the last reference goes, and its drop does nothing
//! interesting. The connection resources `C` (sockets, tracer handles) are
//! reachable only through [`App::lease`], which hands out an `Arc<Lease<C>>`
//! while the app is not being torn down. When the last lease drops, `C` is
//! sent to the reaper, which performs the teardown I/O on its own thread.
//! Neither papaya's reclaimer nor any registry operation ever runs that I/O.
//!
//! `C` itself sits behind an `Arc` that only the lease holds, so the job the
//! reaper gets is the sole owner of `C`. Keeping it a counted handle (rather
//! than moving `C` out) is what lets the `teardown_early` mutant in
//! `loom-tests` hand the reaper a job while readers still hold leases, the
//! historical use-after-free the models must catch.
//!
//! # State machine
//!
//! ```text
//!   Registering --publish--> Live --teardown--> Dying
//!        \____________________teardown__________/^
//! ```
//!
//! Only one teardown wins the CAS into `Dying`; it takes the daemon's own
//! lease out of the shell, so once the tasks holding the remaining leases
//! finish, `C` reaches the reaper exactly once.

use std::time::SystemTime;

use crate::sync::atomic::{AtomicU8, Ordering};
use crate::sync::{lock, mpsc, Arc, Mutex};

/// Daemon-assigned, never reused for the daemon's lifetime. Apps are keyed by
/// this, never by pid alone (pids are reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct AppId(pub u64);

/// Credentials the kernel reported for the socket (SO_PEERCRED). The
/// authority for pid, uid and gid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PeerCreds {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
}

/// What the app says about itself: its view from inside its own pid/user
/// namespaces. Displayed as vpid/vuid/vgid, never used for access decisions.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Claimed {
    pub vpid: i32,
    /// Kept only when the claimed pid matches the peer pid, as lttng does.
    pub ppid: i32,
    pub vuid: u32,
    pub vgid: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AppInfo {
    pub creds: PeerCreds,
    pub claimed: Claimed,
    pub name: String,
    pub bits_per_long: u32,
    /// Ring-buffer alignments in bits: u8, u16, u32, u64, long.
    pub alignments: [u32; 5],
    pub abi_major: u32,
    pub abi_minor: u32,
    pub tracer_version: (u32, u32, u32),
    /// Socket keys (the fd numbers) of the command and notify sockets. An fd
    /// number is only reused after this app's sockets are closed, which
    /// happens after it left every map (see `registry`).
    pub cmd_key: i32,
    pub notify_key: i32,
    pub registered_at: SystemTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum AppState {
    Registering = 0,
    Live = 1,
    Dying = 2,
}

impl AppState {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Registering,
            1 => Self::Live,
            _ => Self::Dying,
        }
    }
}

/// Work handed to the reaper: the resources of an app nobody uses anymore.
pub struct TeardownJob<C> {
    pub app: AppId,
    /// The last reference to the resources (see the module doc): dropping
    /// it closes them.
    pub conn: Arc<C>,
}

/// The reaper's loop (`io::reaper` runs it on its own thread): for each job
/// until every sender is gone, [`reap`].
pub fn reap_all<C>(jobs: &mpsc::Receiver<TeardownJob<C>>, mut gone: impl FnMut(AppId)) {
    while let Ok(job) = jobs.recv() {
        reap(job, &mut gone);
    }
}

/// One teardown: drop the resources, whose last reference the job holds, so
/// this closes the app's sockets; then `gone`, the app-gone work (final
/// metadata pushes, per-PID buffers), which therefore never runs while the
/// app could still send a request or be sent a command.
pub fn reap<C>(job: TeardownJob<C>, gone: impl FnOnce(AppId)) {
    let TeardownJob { app, conn } = job;
    drop(conn);
    gone(app);
}

/// A counted reference to an app's connection resources. Dropping the last
/// one sends the resources to the reaper; it never does I/O itself.
pub struct Lease<C: Send + 'static> {
    app: AppId,
    conn: Option<Arc<C>>,
    reaper: mpsc::Sender<TeardownJob<C>>,
}

impl<C: Send + 'static> std::ops::Deref for Lease<C> {
    type Target = C;
    fn deref(&self) -> &C {
        self.conn.as_deref().expect("conn is only taken in drop")
    }
}

impl<C: Send + 'static> Drop for Lease<C> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Mutant teardown_early: the resources went to the reaper at
            // unregister already, while other leases still used them.
            if cfg!(ustd_mutant = "teardown_early") {
                return;
            }
            // A closed reaper means the daemon is exiting; dropping `conn`
            // here then only closes fds, which is what the reaper would do.
            let _ = self.reaper.send(TeardownJob {
                app: self.app,
                conn,
            });
        }
    }
}

impl<C: Send + 'static> Lease<C> {
    /// Mutant: the historical teardown that does not wait for the app's
    /// other users. The reaper gets the resources while leases still hold
    /// them. Never compiled outside `loom-tests` mutant builds.
    #[cfg(ustd_mutant = "teardown_early")]
    pub(crate) fn release_without_waiting(&self) {
        if let Some(conn) = &self.conn {
            let _ = self.reaper.send(TeardownJob {
                app: self.app,
                conn: conn.clone(),
            });
        }
    }
}

pub struct App<C: Send + 'static> {
    pub id: AppId,
    pub info: AppInfo,
    state: AtomicU8,
    /// The daemon's own lease. `None` once teardown has started.
    conn: Mutex<Option<Arc<Lease<C>>>>,
}

impl<C: Send + 'static> App<C> {
    /// A shell in state `Registering`, not yet visible to registry readers.
    pub fn new(id: AppId, info: AppInfo, conn: C, reaper: mpsc::Sender<TeardownJob<C>>) -> Self {
        let lease = Arc::new(Lease {
            app: id,
            conn: Some(Arc::new(conn)),
            reaper,
        });
        Self {
            id,
            info,
            state: AtomicU8::new(AppState::Registering as u8),
            conn: Mutex::new(Some(lease)),
        }
    }

    pub fn state(&self) -> AppState {
        AppState::from_u8(self.state.load(Ordering::Acquire))
    }

    /// A lease on the connection, or `None` once teardown has begun. Callers
    /// hold it for one exchange (or for a task's lifetime) and never store it
    /// in shared state.
    pub fn lease(&self) -> Option<Arc<Lease<C>>> {
        if self.state() == AppState::Dying {
            return None;
        }
        lock(&self.conn).clone()
    }

    /// `Registering -> Live`. Fails if a teardown got there first.
    pub(crate) fn mark_live(&self) -> bool {
        self.state
            .compare_exchange(
                AppState::Registering as u8,
                AppState::Live as u8,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    /// Moves to `Dying` from either earlier state. Exactly one caller gets
    /// `Some` (the daemon's lease, to drop after unlinking the app).
    pub(crate) fn begin_teardown(&self) -> Option<Arc<Lease<C>>> {
        let prev = self.state.swap(AppState::Dying as u8, Ordering::AcqRel);
        if prev == AppState::Dying as u8 {
            return None;
        }
        lock(&self.conn).take()
    }
}
