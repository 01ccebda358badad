//! Listings of registered apps: from the registry alone (`list_apps`), or
//! asked of every app (`list_tracepoints`).

use crate::command::reply::{AppList, AppTracepoints, AppView, TracepointListing};
use crate::io::app_conn::{AppJob, AppRef};
use crate::io::fan_out::fan_out;
use crate::io::state::Daemon;

/// Every registered app, with no round trip to any of them.
pub fn list_apps(d: &Daemon) -> AppList {
    AppList {
        apps: d.registry.snapshot().iter().map(view).collect(),
    }
}

fn view(a: &AppRef) -> AppView {
    let i = &a.info;
    let (ma, mi, pa) = i.tracer_version;
    AppView {
        app_id: a.id.0,
        pid: i.creds.pid,
        ppid: i.claimed.ppid,
        uid: i.creds.uid,
        gid: i.creds.gid,
        vpid: i.claimed.vpid,
        vuid: i.claimed.vuid,
        vgid: i.claimed.vgid,
        name: i.name.clone(),
        bits_per_long: i.bits_per_long,
        abi_major: i.abi_major,
        abi_minor: i.abi_minor,
        tracer_version: format!("{ma}.{mi}.{pa}"),
        state: format!("{:?}", a.state()).to_lowercase(),
        registered_at: humantime::format_rfc3339_seconds(i.registered_at).to_string(),
        sessions: a
            .lease()
            .map(|l| crate::sync::lock(&l.objects).sessions())
            .unwrap_or_default(),
    }
}

/// Each app's tracepoints (with their fields if `fields`); apps that do not
/// answer are named in the report.
pub async fn list_tracepoints(d: &Daemon, fields: bool) -> TracepointListing {
    let (report, values) = fan_out(d, |done| AppJob::ListTracepoints { fields, done }).await;
    let apps = values
        .into_iter()
        .map(|(a, tracepoints)| AppTracepoints {
            app_id: a.id.0,
            pid: a.info.creds.pid,
            name: a.info.name.clone(),
            tracepoints,
        })
        .collect();
    TracepointListing { apps, report }
}
