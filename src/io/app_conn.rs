//! An app's connection resources and the command exchanges on them.

use std::sync::Arc;

use tokio::net::UnixStream;

use crate::core::app::{App, Lease, PeerCreds};
use crate::core::fd_budget::FdPermit;
use crate::core::notify::HasObjects;
pub use crate::core::notify::{ObjRef, ObjTable};
pub use crate::io::job_queue::AppJob;
use crate::io::job_queue::JobQueue;
use crate::io::stream::{exchange, AppIoError, Deadline};
use crate::wire::cmd::{CmdMsg, Reply};
use crate::wire::reg::RegMsg;

/// Everything that must be released when an app goes: its two sockets and
/// their fd-budget permits. Closed by the reaper when the last lease drops.
pub struct AppConn {
    pub cmd: UnixStream,
    pub notify: UnixStream,
    /// Fired by teardown, and by the daemon's shutdown; every task serving
    /// the app exits on it and drops its lease.
    pub cancel: AppCancel,
    /// Work for the app's command actor (configuration syncs, listings).
    pub jobs: JobQueue,
    /// The app's session/channel handles, for the notify task.
    pub objects: crate::sync::Mutex<ObjTable>,
    pub _permits: (FdPermit, FdPermit),
}

pub type AppRef = Arc<App<AppConn>>;

impl HasObjects for AppConn {
    fn objects(&self) -> &crate::sync::Mutex<ObjTable> {
        &self.objects
    }
}

impl AppConn {
    /// One command round trip on the command socket. Only the app's own
    /// actor calls this, so there is one command in flight per socket.
    pub async fn exchange(&self, deadline: Deadline, msg: &CmdMsg) -> Result<Reply, AppIoError> {
        exchange(&self.cmd, deadline, msg).await
    }
}

/// The stop signal of an app's tasks: a flag and a wake-up, inline in the
/// connection. A child `CancellationToken` of the daemon's would cost every
/// app a 112-byte tree node plus a slot in the parent's child list; the
/// daemon's shutdown fires each published app's signal itself instead
/// (`io::daemon`), and a registration that publishes after that checks the
/// daemon's token (`io::registration`).
#[derive(Default)]
pub struct AppCancel {
    fired: std::sync::atomic::AtomicBool,
    wake: tokio::sync::Notify,
}

impl AppCancel {
    pub fn cancel(&self) {
        self.fired.store(true, std::sync::atomic::Ordering::SeqCst);
        self.wake.notify_waiters();
    }

    /// Resolves once `cancel` has been called, before or after this call.
    pub async fn cancelled(&self) {
        // A Notified future receives notify_waiters from its creation on,
        // so a cancel between the creation and the check still wakes it.
        let woken = self.wake.notified();
        if self.fired.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        woken.await;
    }
}

/// One registered socket waiting for its counterpart.
pub struct Half {
    pub(crate) stream: UnixStream,
    pub(crate) reg: RegMsg,
    pub(crate) creds: PeerCreds,
    pub(crate) permit: FdPermit,
    /// Dropped once the half leaves the pairing table (paired or replaced):
    /// that ends its parked task's wait early instead of at the deadline.
    pub(crate) parked_wake: Option<tokio::sync::oneshot::Sender<()>>,
}

/// The actor's end of its app's queue; closes the queue when dropped, even
/// if the actor never ran.
pub struct JobReceiver {
    lease: Arc<Lease<AppConn>>,
}

impl JobReceiver {
    pub fn new(lease: Arc<Lease<AppConn>>) -> Self {
        Self { lease }
    }

    /// The lease the receiver holds: the actor's for the app's life.
    pub fn lease(&self) -> &Arc<Lease<AppConn>> {
        &self.lease
    }

    pub async fn recv(&self) -> Box<AppJob> {
        self.lease.jobs.recv().await
    }
}

impl Drop for JobReceiver {
    fn drop(&mut self) {
        self.lease.jobs.close();
    }
}
