//! The fd budget covers every fd the daemon opens, the transient copies of
//! the buffer fds it hands to each app included: under a low RLIMIT_NOFILE,
//! a fan-out waits for budget instead of failing apps with EMFILE.

mod common;

use common::World;
use serde_json::Value;

/// Fake apps (`ustd-bench`), each holding two sockets in the daemon.
const APPS: usize = 300;
/// fds beyond the apps' sockets: the daemon's own files (its fd reserve,
/// 64) plus 100. Every app maps at least 3 transient fds during `start`
/// (channel wakeup + 2 per possible CPU), so a fan-out handing them out to
/// all apps at once needs >= 900 more and overflows this limit.
const NOFILE: usize = 2 * APPS + 64 + 100;

#[test]
fn start_waits_for_fd_budget_instead_of_failing_apps() {
    let w = World::builder().daemon_nofile(NOFILE).start();
    let bench = w.spawn_fake_apps(APPS, &["--short-lived-connectors"]);
    w.create_enable_all();
    let out = w.ustd(&["start", "--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let body: Value = serde_json::from_str(&stdout).expect("JSON reply");
    let failed = body["report"]["failed"].as_array().expect("failed list");
    assert!(
        failed.is_empty(),
        "{} app(s) failed, first: {}",
        failed.len(),
        failed[0]
    );
    assert_eq!(body["report"]["applied"], APPS, "{body}");
    assert!(out.status.success(), "start: {out:?}");
    assert!(
        !w.daemon_log().contains("Too many open files"),
        "the daemon hit EMFILE"
    );
    let out = w.ustd(&["destroy"]);
    assert!(out.status.success(), "destroy: {out:?}");
    w.stop_fake_apps(bench);
}
