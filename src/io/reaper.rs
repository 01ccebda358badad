//! The reaper: the one place app teardown I/O happens.
//!
//! It is ustd's `call_rcu` worker. A [`Lease`](crate::core::app::Lease)
//! whose count reaches zero posts its resources here; the reaper closes the
//! sockets (dropping them), returns their fds to the budget and logs. It
//! never runs inside a map's reclaimer and never on the registration path.

use std::sync::mpsc;
use std::thread::JoinHandle;

use crate::core::app::TeardownJob;
use crate::io::app_conn::AppConn;

pub struct Reaper {
    pub tx: mpsc::Sender<TeardownJob<AppConn>>,
    handle: JoinHandle<()>,
}

impl Reaper {
    pub fn spawn(rt: tokio::runtime::Handle) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<TeardownJob<AppConn>>();
        let handle = std::thread::Builder::new()
            .name("ustd-reaper".into())
            .spawn(move || {
                // Dropping tokio sockets deregisters them from the runtime's
                // reactor, which needs its handle in scope.
                let _enter = rt.enter();
                for job in rx {
                    let TeardownJob { app, conn } = job;
                    drop(conn);
                    tracing::debug!(app = app.0, "app resources released");
                }
            })?;
        Ok(Self { tx, handle })
    }

    /// Waits until every queued teardown ran. All senders (including those
    /// inside leases) must be gone, or this waits for them.
    pub fn join(self) {
        drop(self.tx);
        let _ = self.handle.join();
    }
}
