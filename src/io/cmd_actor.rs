//! The per-app command actor: the only task that writes to an app's command
//! socket once the app is published. Between commands it watches the socket
//! for a hang-up (lttng-ust never writes to it unprompted).

use std::sync::Arc;

use crate::core::app::Lease;
use crate::io::app_conn::{AppConn, AppRef};
use crate::io::daemon::Daemon;
use crate::io::stream::idle_watch;

pub async fn run(d: Arc<Daemon>, app: AppRef, lease: Arc<Lease<AppConn>>) {
    tokio::select! {
        _ = lease.cancel.cancelled() => {}
        _ = d.shutdown.cancelled() => {}
        why = idle_watch(&lease.cmd) => d.hang_up(&app, &lease, "command socket", &why),
    }
}
