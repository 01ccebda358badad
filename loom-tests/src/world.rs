//! The world around ustd's core in a model: a kernel with an fd table,
//! sockets whose state lives in loom cells (closed when the connection
//! resources drop, as the daemon's `UnixStream`s are), apps built with
//! ustd's own `App`/`AppRegistry`, and the reaper running ustd's own
//! `core::app::reap` with an app-gone hook that checks its precondition.
//!
//! A socket's state is the stand-in for "A's state" in the invariants: every
//! user touches it through a loom `UnsafeCell`, and the reaper's teardown
//! writes it. loom fails the model on any access that is not ordered (by
//! happens-before) with that write, which is what a use-after-free is; the
//! explicit `open` flag catches the accesses that are ordered but late.

use std::time::UNIX_EPOCH;

use loom::cell::UnsafeCell;
use ustd::core::app::{reap, App, AppId, AppInfo, Claimed, PeerCreds, TeardownJob};
use ustd::core::notify::{HasObjects, ObjTable};
use ustd::core::registry::AppRegistry;
use ustd::sync::{lock, mpsc, Arc, Mutex};

/// The kernel's fd table: which app's socket each fd number is. New sockets
/// take the lowest free number, as `socket`/`accept` do, so a number is
/// reused as soon as it is closed.
#[derive(Default)]
pub struct Kernel {
    fds: Mutex<Vec<Option<AppId>>>,
}

impl Kernel {
    fn open(&self, owner: AppId) -> i32 {
        let mut fds = lock(&self.fds);
        let fd = match fds.iter().position(Option::is_none) {
            Some(free) => {
                fds[free] = Some(owner);
                free
            }
            None => {
                fds.push(Some(owner));
                fds.len() - 1
            }
        };
        i32::try_from(fd).expect("models open a handful of fds")
    }

    fn close(&self, fd: i32) {
        let mut fds = lock(&self.fds);
        let slot = &mut fds[usize::try_from(fd).expect("fds are non-negative")];
        assert!(slot.is_some(), "fd {fd} closed twice");
        *slot = None;
    }

    /// Whether any fd is still `app`'s.
    pub fn holds_any(&self, app: AppId) -> bool {
        lock(&self.fds).contains(&Some(app))
    }

    /// Whose socket `fd` currently is.
    pub fn owner(&self, fd: i32) -> Option<AppId> {
        let fds = lock(&self.fds);
        usize::try_from(fd)
            .ok()
            .and_then(|i| fds.get(i).copied().flatten())
    }
}

struct SocketState {
    open: bool,
    /// Set by the registration task once the app's setup (handshake, global
    /// update) is done; read by anyone who uses the app afterwards.
    setup_done: bool,
    /// Messages written, by the socket's single writer.
    written: u32,
}

/// One of an app's sockets as the daemon holds it.
pub struct Socket {
    pub fd: i32,
    owner: AppId,
    state: UnsafeCell<SocketState>,
    kernel: Arc<Kernel>,
}

// SAFETY: the cell is shared on purpose, it is the thing under test. Every
// access goes through loom's `with`/`with_mut`, which fail the model on an
// access not ordered with a conflicting one before it could be executed
// unordered (loom runs one model thread at a time).
unsafe impl Sync for Socket {}

impl Socket {
    fn open(kernel: &Arc<Kernel>, owner: AppId) -> Self {
        Self {
            fd: kernel.open(owner),
            owner,
            state: UnsafeCell::new(SocketState {
                open: true,
                setup_done: false,
                written: 0,
            }),
            kernel: kernel.clone(),
        }
    }

    /// A shared use (a reader of the app's state: a fan-out queuing work, a
    /// lookup reading its objects). Returns whether setup was done.
    pub fn read(&self) -> bool {
        // SAFETY: loom checks that this read is ordered with every write of
        // the cell (the single writer's and the reaper's close); a race is
        // reported as a failed model, never executed.
        let (open, setup_done) = self.state.with(|s| unsafe { ((*s).open, (*s).setup_done) });
        assert!(
            open,
            "app {:?}: socket {} used after its teardown",
            self.owner, self.fd
        );
        assert_eq!(
            self.kernel.owner(self.fd),
            Some(self.owner),
            "fd {} no longer belongs to app {:?}",
            self.fd,
            self.owner
        );
        setup_done
    }

    /// A write by the socket's one writer (the command actor, or the notify
    /// task on the notify socket).
    pub fn write(&self) {
        // SAFETY: as in `read`; loom reports a write racing any other access.
        self.state.with_mut(|s| unsafe {
            assert!(
                (*s).open,
                "app {:?}: write on socket {} after its teardown",
                self.owner,
                self.fd
            );
            (*s).written += 1;
        });
    }

    /// The end of the registration task's setup.
    pub fn mark_setup_done(&self) {
        // SAFETY: as in `write`.
        self.state.with_mut(|s| unsafe { (*s).setup_done = true });
    }

    pub fn written(&self) -> u32 {
        // SAFETY: as in `read`.
        self.state.with(|s| unsafe { (*s).written })
    }

    /// The teardown I/O: runs when the connection resources drop.
    fn close(&self) {
        // SAFETY: as in `write`: this is the access every other one must be
        // ordered before.
        self.state.with_mut(|s| unsafe {
            assert!(
                (*s).open,
                "app {:?}: socket {} closed twice",
                self.owner,
                self.fd
            );
            (*s).open = false;
        });
        self.kernel.close(self.fd);
    }
}

/// The model's `C`: what `io::app_conn::AppConn` is to the daemon. Its
/// sockets close when it drops, as `AppConn`'s do.
pub struct ModelConn {
    pub owner: AppId,
    pub cmd: Socket,
    pub notify: Socket,
    /// The app's session/channel handles, as its sync left them.
    pub objects: Mutex<ObjTable>,
}

impl HasObjects for ModelConn {
    fn objects(&self) -> &Mutex<ObjTable> {
        &self.objects
    }
}

impl Drop for ModelConn {
    fn drop(&mut self) {
        self.cmd.close();
        self.notify.close();
    }
}

/// What the reaper's app-gone hook needs: the app's sockets closed (its
/// connection resources dropped), so no request of the app can arrive and
/// no command can reach it after its final metadata push.
pub const GONE_TOO_EARLY: &str = "app-gone work ran while the app's resources were still in use";

/// Apps whose app-gone work ran, in order.
pub type Gone = Arc<Mutex<Vec<AppId>>>;

/// Kernel, registry and reaper channel of one execution.
pub struct World {
    pub kernel: Arc<Kernel>,
    pub registry: Arc<AppRegistry<ModelConn>>,
    reaper_tx: mpsc::Sender<TeardownJob<ModelConn>>,
    reaper_rx: mpsc::Receiver<TeardownJob<ModelConn>>,
    gone: Gone,
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

impl World {
    pub fn new() -> Self {
        let (reaper_tx, reaper_rx) = mpsc::channel();
        Self {
            kernel: Arc::new(Kernel::default()),
            registry: Arc::new(AppRegistry::new()),
            reaper_tx,
            reaper_rx,
            gone: Gone::default(),
        }
    }

    /// An app that connected with peer pid `pid`: its two sockets are open
    /// (lowest free fds), its shell is built, it is not published.
    pub fn connect(&self, pid: i32) -> Arc<App<ModelConn>> {
        Self::connect_with(&self.kernel, &self.registry, &self.reaper_tx, pid)
    }

    /// [`World::connect`] for use inside a model thread.
    pub fn connector(&self) -> impl Fn(i32) -> Arc<App<ModelConn>> + Send + 'static {
        let (kernel, registry, tx) = (
            self.kernel.clone(),
            self.registry.clone(),
            self.reaper_tx.clone(),
        );
        move |pid| Self::connect_with(&kernel, &registry, &tx, pid)
    }

    fn connect_with(
        kernel: &Arc<Kernel>,
        registry: &AppRegistry<ModelConn>,
        tx: &mpsc::Sender<TeardownJob<ModelConn>>,
        pid: i32,
    ) -> Arc<App<ModelConn>> {
        let id = registry.allocate_id();
        let conn = ModelConn {
            owner: id,
            cmd: Socket::open(kernel, id),
            notify: Socket::open(kernel, id),
            objects: Mutex::new(ObjTable::default()),
        };
        let info = app_info(pid, conn.cmd.fd, conn.notify.fd);
        Arc::new(App::new(id, info, conn, tx.clone()))
    }

    /// The reaper: waits for the next teardown job and runs ustd's own
    /// `core::app::reap` on it (drop the resources, then the app-gone
    /// work). Returns whose resources they were.
    pub fn reap_one(&self) -> AppId {
        let job = self
            .reaper_rx
            .recv()
            .expect("leases hold reaper senders until they post their job");
        assert_eq!(
            job.app, job.conn.owner,
            "a teardown job carries its own app's resources"
        );
        let app = job.app;
        reap(job, |app| {
            assert!(!self.kernel.holds_any(app), "{GONE_TOO_EARLY}");
            lock(&self.gone).push(app);
        });
        app
    }

    /// Apps whose app-gone work ran.
    pub fn gone(&self) -> Vec<AppId> {
        lock(&self.gone).clone()
    }

    /// Whether a teardown job is waiting (after every thread joined: a
    /// second teardown of the same resources).
    pub fn job_pending(&self) -> bool {
        self.reaper_rx.try_recv().is_ok()
    }
}

fn app_info(pid: i32, cmd_key: i32, notify_key: i32) -> AppInfo {
    AppInfo {
        creds: PeerCreds {
            pid,
            uid: 1000,
            gid: 1000,
        },
        claimed: Claimed {
            vpid: pid,
            ppid: 1,
            vuid: 1000,
            vgid: 1000,
        },
        name: "model".into(),
        bits_per_long: 64,
        alignments: [8; 5],
        abi_major: 9,
        abi_minor: 0,
        tracer_version: (2, 13, 5),
        cmd_key,
        notify_key,
        registered_at: UNIX_EPOCH,
    }
}
