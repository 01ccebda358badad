//! Commands to apps written back to back when none needs an earlier one's
//! reply (the handshake's two, a channel's STREAMs, its EVENTs, their
//! FILTERs and EXCLUSIONs, the ENABLEs with the session's ENABLE and
//! WAIT_QUIESCENT, ...): one round trip for each group, and a refusal of
//! one leaves the command socket in step.

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
    let bench = w.spawn_fake_apps(1, &["--refuse-session-enable"]);
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
    w.stop_fake_apps(bench);
}

/// How many `op` commands the fake apps got, and how many of those they
/// found waiting right after answering the one before.
fn counts(report: &Value, op: &str) -> (u64, u64) {
    let n = |k: &str| report[k][op].as_u64().unwrap_or(0);
    (n("commands"), n("commands_waiting"))
}

/// Each group of independent commands goes out before its replies are
/// read: the apps (ustd-bench counts it) find every command of a group
/// but the first already waiting when they have answered the one before.
/// Half of that is required, so a rare preemption of the daemon between
/// two writes of a group cannot fail the test; written one at a time,
/// none is found waiting. Breaks caught, each alone: EVENTs, ENABLEs or
/// STREAMs sent one per round trip, or the handshake's REGISTER_DONE
/// waiting for the TRACER_VERSION reply.
#[test]
fn independent_commands_are_written_together() {
    const APPS: u64 = 4;
    let w = World::start();
    let bench = w.spawn_fake_apps(APPS as usize, &[]);
    let trace = w.dir.join("trace");
    for args in [
        &["create", "s", "-o", trace.to_str().unwrap()][..],
        &["enable-event", "-u", "e0,e1,e2,e3,e4,e5"],
        &["enable-event", "-u", "f0", "--filter", "x == 1"],
        &["enable-event", "-u", "w*", "-x", "w1"],
        &["add-context", "-u", "-t", "vpid"],
        &["start"],
        &["stop"],
        &["destroy"],
    ] {
        let out = w.ustd(args);
        assert!(
            out.status.success(),
            "`ustd {}`: {out:?}\n{}",
            args.join(" "),
            w.daemon_log()
        );
    }
    assert_eq!(w.list().len(), APPS as usize, "an app was dropped");
    let report = w.stop_fake_apps(bench);

    // 8 events (EVENT, then their ENABLEs with the session's ENABLE):
    // all but the first of each group found waiting.
    for op in ["EVENT", "ENABLE"] {
        let (total, waiting) = counts(&report, op);
        assert!(total >= 8 * APPS, "{op}: only {total} sent: {report}");
        assert!(
            2 * waiting >= total - APPS,
            "{op}: {waiting} of {total} found waiting: {report}"
        );
    }
    // One channel: its STREAMs (one per CPU) after the first.
    let (streams, waiting) = counts(&report, "STREAM");
    let (channels, _) = counts(&report, "CHANNEL");
    assert!(
        2 * waiting >= streams - channels,
        "STREAM: {waiting} of {streams} found waiting: {report}"
    );
    // The EXCLUSION follows the FILTER (of another event); every
    // WAIT_QUIESCENT follows what it quiesces.
    for op in ["EXCLUSION", "WAIT_QUIESCENT"] {
        let (total, waiting) = counts(&report, op);
        assert!(
            total >= APPS && 2 * waiting >= total,
            "{op}: {waiting} of {total}: {report}"
        );
    }
    // No session existed at registration: REGISTER_DONE went out with
    // TRACER_VERSION.
    let (_, waiting) = counts(&report, "REGISTER_DONE");
    assert!(
        2 * waiting >= APPS,
        "REGISTER_DONE: {waiting} of {APPS}: {report}"
    );
}

/// An app that refuses an event's FILTER never gets that event enabled
/// (it would record every occurrence, unfiltered), nor the session
/// started; its other events are set up, `start` reports it, and its
/// socket stays in step. Breaks caught: the ENABLE sent for an event
/// whose FILTER was refused, or the session's ENABLE sent despite the
/// refusal (2 ENABLEs instead of 1 either way).
#[test]
fn refused_filter_leaves_its_event_disabled_and_the_session_stopped() {
    let w = World::start();
    let bench = w.spawn_fake_apps(1, &["--refuse-filter"]);
    let trace = w.dir.join("trace");
    for args in [
        &["create", "s", "-o", trace.to_str().unwrap()][..],
        &["enable-event", "-u", "filtered", "--filter", "x == 1"],
        &["enable-event", "-u", "plain"],
    ] {
        let out = w.ustd(args);
        assert!(out.status.success(), "`ustd {}`: {out:?}", args.join(" "));
    }
    let out = w.ustd(&["start", "--json"]);
    assert_eq!(
        failed(&out).len(),
        1,
        "start should report the app: {out:?}"
    );
    assert!(!out.status.success(), "start exited 0 with a failed app");
    assert_eq!(w.list().len(), 1, "the refusing app was dropped");
    let out = w.ustd(&["destroy", "--json"]);
    assert!(
        failed(&out).is_empty() && out.status.success(),
        "destroy: {out:?}"
    );
    let report = w.stop_fake_apps(bench);
    // The refused event is made again by each later sync (here `destroy`'s
    // stop), and refused again.
    assert!(counts(&report, "FILTER").0 >= 1, "{report}");
    assert_eq!(
        counts(&report, "ENABLE").0,
        1,
        "only `plain` is enabled: {report}"
    );
}
