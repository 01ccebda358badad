//! The reaper: the one place app teardown I/O happens.
//!
//! It is ustd's `call_rcu` worker. A [`Lease`](crate::core::app::Lease)
//! whose count reaches zero posts its resources here; the reaper closes the
//! sockets (dropping them), returns their fds to the budget, then runs the
//! app-gone hook: final metadata pushes and, for per-PID buffers, the flush
//! and release of the app's buffers. It never runs inside a map's
//! reclaimer and never on the registration path.

use std::sync::{mpsc, Arc, OnceLock};
use std::thread::JoinHandle;

use crate::core::app::{reap_all, AppId, TeardownJob};
use crate::io::app_conn::AppConn;

type Hook = Box<dyn Fn(AppId) + Send + Sync>;

pub struct Reaper {
    pub tx: mpsc::Sender<TeardownJob<AppConn>>,
    hook: Arc<OnceLock<Hook>>,
    handle: JoinHandle<()>,
}

impl Reaper {
    pub fn spawn(rt: tokio::runtime::Handle) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<TeardownJob<AppConn>>();
        let hook: Arc<OnceLock<Hook>> = Arc::default();
        let h = hook.clone();
        let handle = std::thread::Builder::new()
            .name("ustd-reaper".into())
            .spawn(move || {
                // Dropping tokio sockets deregisters them from the runtime's
                // reactor, which needs its handle in scope.
                let _enter = rt.enter();
                reap_all(&rx, |app| {
                    tracing::debug!(app = app.0, "app sockets closed");
                    if let Some(f) = h.get() {
                        f(app);
                    }
                });
            })?;
        Ok(Self { tx, hook, handle })
    }

    /// Installs what runs after an app's sockets are closed (set once, when
    /// the daemon state it needs exists).
    pub fn on_app_gone(&self, f: impl Fn(AppId) + Send + Sync + 'static) {
        let _ = self.hook.set(Box::new(f));
    }

    /// Waits until every queued teardown ran. All senders (including those
    /// inside leases) must be gone, or this waits for them.
    pub fn join(self) {
        drop(self.tx);
        let _ = self.handle.join();
    }
}
