//! An app's connection resources and the command exchanges on them.

use std::sync::Arc;

use tokio::net::UnixStream;
use tokio_util::sync::CancellationToken;

use crate::core::app::App;
use crate::core::fd_budget::FdPermit;
use crate::io::app_sync::{ObjTable, TracepointInfo};
use crate::io::job_queue::JobQueue;
use crate::io::stream::{exchange, AppIoError, Deadline};
use crate::wire::cmd::{CmdMsg, Reply};

/// Everything that must be released when an app goes: its two sockets and
/// their fd-budget permits. Closed by the reaper when the last lease drops.
pub struct AppConn {
    pub cmd: UnixStream,
    pub notify: UnixStream,
    /// Fired by teardown, and by the daemon's shutdown (a child token);
    /// every task serving the app exits on it and drops its lease.
    pub cancel: CancellationToken,
    /// Work for the app's command actor (configuration syncs, listings).
    pub jobs: JobQueue,
    /// The app's session/channel handles, for the notify task.
    pub objects: crate::sync::Mutex<ObjTable>,
    pub _permits: (FdPermit, FdPermit),
}

/// A request for the app's command actor, answered on `done`.
pub enum AppJob {
    /// Bring the app in line with every session's current configuration.
    Sync {
        done: tokio::sync::oneshot::Sender<Result<(), String>>,
    },
    /// Release a destroyed session's objects in the app.
    Forget {
        session_id: u64,
        done: tokio::sync::oneshot::Sender<Result<(), String>>,
    },
    /// List the app's tracepoints (and their fields).
    ListTracepoints {
        fields: bool,
        done: tokio::sync::oneshot::Sender<Result<Vec<TracepointInfo>, String>>,
    },
}

pub type AppRef = Arc<App<AppConn>>;

impl AppConn {
    /// One command round trip on the command socket. Only the app's own
    /// actor calls this, so there is one command in flight per socket.
    pub async fn exchange(&self, deadline: Deadline, msg: &CmdMsg) -> Result<Reply, AppIoError> {
        exchange(&self.cmd, deadline, msg).await
    }
}
