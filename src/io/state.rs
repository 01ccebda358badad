//! The daemon's shared state: what every task of the daemon reaches through
//! one `Arc<Daemon>`. Start-up and shutdown (`io::daemon`) build and tear it
//! down; nothing here spawns a task.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::core::app::{Lease, TeardownJob};
use crate::core::fd_budget::FdBudget;
use crate::core::pairing::Pairing;
use crate::core::registry::AppRegistry;
use crate::core::session::Sessions;
use crate::engine::trace::SessionTrace;
use crate::io::app_conn::{AppConn, AppRef, Half};
use crate::io::paths::Paths;
use crate::io::stream::{AppIoError, Deadline};

/// State shared by every task of the daemon.
pub struct Daemon {
    pub registry: AppRegistry<AppConn>,
    pub pairing: Pairing<Half>,
    pub budget: Arc<FdBudget>,
    pub deadline: Deadline,
    pub reaper: std::sync::mpsc::Sender<TeardownJob<AppConn>>,
    pub shutdown: CancellationToken,
    pub paths: Paths,
    /// Each session with its configuration and, once started, its trace
    /// (buffers, registries, consumer): one owner per session.
    pub sessions: Sessions<SessionTrace>,
}

impl Daemon {
    pub fn trace(&self, session_id: u64) -> Option<Arc<SessionTrace>> {
        self.sessions
            .all()
            .into_iter()
            .find(|s| s.id == session_id)?
            .trace()
    }

    /// Tears an app down after a failure on either of its sockets: unlink it
    /// from every index, then stop its tasks so their leases drop and the
    /// reaper closes the sockets. Safe to call from several tasks at once.
    pub fn hang_up(&self, app: &AppRef, lease: &Lease<AppConn>, step: &str, why: &AppIoError) {
        if self.registry.unregister(app) {
            let level_info = matches!(why, AppIoError::Eof);
            let (id, pid, name) = (app.id.0, app.info.creds.pid, &app.info.name);
            if level_info {
                tracing::info!(app = id, pid, %name, "app left ({step}: {why})");
            } else {
                tracing::warn!(app = id, pid, %name, "app disconnected ({step}: {why})");
            }
        }
        lease.cancel.cancel();
    }
}
