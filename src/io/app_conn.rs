//! An app's connection resources and the command exchanges on them.

use std::sync::Arc;

use tokio::net::UnixStream;
use tokio_util::sync::CancellationToken;

use crate::core::app::App;
use crate::core::fd_budget::FdPermit;
use crate::io::stream::{exchange, AppIoError, Deadline};
use crate::wire::cmd::{CmdMsg, Reply};

/// Everything that must be released when an app goes: its two sockets and
/// their fd-budget permits. Closed by the reaper when the last lease drops.
pub struct AppConn {
    pub cmd: UnixStream,
    pub notify: UnixStream,
    /// Fired by teardown; every task serving the app exits on it and drops
    /// its lease.
    pub cancel: CancellationToken,
    pub _permits: (FdPermit, FdPermit),
}

pub type AppRef = Arc<App<AppConn>>;

impl AppConn {
    /// One command round trip on the command socket. Only the app's own
    /// actor calls this, so there is one command in flight per socket.
    pub async fn exchange(&self, deadline: Deadline, msg: &CmdMsg) -> Result<Reply, AppIoError> {
        exchange(&self.cmd, deadline, msg).await
    }
}
