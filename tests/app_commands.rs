//! Commands to apps written back to back (session ENABLE or DISABLE, then
//! WAIT_QUIESCENT; DISABLE and RELEASE, then WAIT_QUIESCENT): one round
//! trip for all, and a refusal of one leaves the command socket in step.

mod common;

use common::World;
use serde_json::Value;

/// The failed apps of a command's `--json` report.
fn failed(out: &std::process::Output) -> Vec<Value> {
    let body: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON reply ({e}): {out:?}"));
    body["report"]["failed"]
        .as_array()
        .unwrap_or_else(|| panic!("no failed list: {body}"))
        .clone()
}

/// Break caught: `read_replies` returning at the first refusal (the
/// WAIT_QUIESCENT reply is left in the socket, and the daemon drops the
/// app over it).
#[test]
fn refused_session_enable_keeps_the_command_socket_in_step() {
    let w = World::start();
    let mut bench = w.spawn_fake_apps(1, &["--refuse-session-enable"]);
    w.create_enable_all();

    let out = w.ustd(&["start", "--json"]);
    let f = failed(&out);
    assert_eq!(f.len(), 1, "start should report the refusing app: {out:?}");
    assert!(!out.status.success(), "start exited 0 with a failed app");

    // The app is still there, and its next command pair gets its own
    // replies, not the one left over from `start`'s pair.
    assert_eq!(w.list().len(), 1, "the refusing app was dropped");
    let out = w.ustd(&["destroy", "--json"]);
    assert!(
        failed(&out).is_empty() && out.status.success(),
        "destroy failed for the app: {out:?}\n{}",
        w.daemon_log()
    );
    assert_eq!(w.list().len(), 1, "the app was dropped at destroy");
    common::signal(bench.id() as i32, libc::SIGTERM);
    let _ = bench.wait();
}
