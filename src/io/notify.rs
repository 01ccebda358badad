//! Serving an app's notify socket.

use std::sync::Arc;

use crate::core::app::Lease;
use crate::io::app_conn::{AppConn, AppRef};
use crate::io::daemon::Daemon;
use crate::io::stream::idle_watch;

pub async fn serve(d: Arc<Daemon>, app: AppRef, lease: Arc<Lease<AppConn>>) {
    tokio::select! {
        _ = lease.cancel.cancelled() => {}
        _ = d.shutdown.cancelled() => {}
        why = idle_watch(&lease.notify) => d.hang_up(&app, &lease, "notify socket", &why),
    }
}
