//! The TSDL ustd writes for an app must match lttng-sessiond's for the same
//! app and configuration, apart from uuid, hostname, dates and the measured
//! clock offset.
//!
//! Both daemons run at once in one private world: lttng-sessiond (root) on
//! the system rundir, ustd on the world's per-user rundir. A lttng-ust app
//! registers with both, so one run of the fixture is traced by each with the
//! same session configuration; both metadata files are then read back with
//! `babeltrace2 --output-format=ctf-metadata` and compared line by line.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

const SESSION: &str = "cmp";

fn run_in(world: &World, program: &str, args: &[&str]) -> String {
    let mut c = world.command_in(Path::new(program));
    c.args(args);
    let out = run_with_timeout(c, GENEROUS).unwrap_or_else(|e| panic!("{program} {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ustd(world: &World, args: &[&str]) -> String {
    let rundir = world.rundir.to_string_lossy().into_owned();
    let mut all = vec!["--rundir", rundir.as_str()];
    all.extend_from_slice(args);
    run_in(world, &ustd_bin().to_string_lossy(), &all)
}

/// The metadata text of the only per-UID trace under `out`.
fn metadata_text(out: &Path) -> String {
    let dir = out.join("ust/uid/0/64-bit");
    assert!(
        dir.join("metadata").exists(),
        "no metadata in {}",
        dir.display()
    );
    let mut c = Command::new("babeltrace2");
    c.arg("--output-format=ctf-metadata").arg(&dir);
    let o = run_with_timeout(c, GENEROUS).expect("babeltrace2");
    assert!(
        o.status.success(),
        "babeltrace2 failed on {}: {}",
        dir.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Blanks what legitimately differs between two daemons and two traces.
fn normalize(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            let t = l.trim_start();
            let indent = &l[..l.len() - t.len()];
            for key in [
                "uuid =",
                "hostname =",
                "trace_creation_datetime =",
                "offset =",
            ] {
                if t.starts_with(key) {
                    return format!("{indent}{key} <normalized>;");
                }
            }
            l.to_owned()
        })
        .collect()
}

#[test]
fn tsdl_matches_lttng_sessiond_for_the_same_app() {
    let world = World::start();
    let lttng_out: PathBuf = world.dir.join("lttng-trace");
    let ustd_out: PathBuf = world.dir.join("ustd-trace");

    // lttng-sessiond, daemonized inside the world (the world's teardown
    // kills every process in its namespace).
    run_in(&world, "/usr/bin/lttng-sessiond", &["--daemonize"]);
    wait_until("lttng-sessiond answers", GENEROUS, || {
        let mut c = world.command_in(Path::new("/usr/bin/lttng"));
        c.arg("list");
        run_with_timeout(c, Duration::from_secs(5))
            .ok()
            .filter(|o| o.status.success())
    });

    let lttng_out_s = lttng_out.to_string_lossy().into_owned();
    let ustd_out_s = ustd_out.to_string_lossy().into_owned();
    run_in(
        &world,
        "/usr/bin/lttng",
        &["create", SESSION, "--output", &lttng_out_s],
    );
    ustd(&world, &["create", SESSION, "-o", &ustd_out_s]);
    for (prog, args) in [
        (
            "/usr/bin/lttng",
            vec!["enable-event", "-u", "ustd_fixture:*"],
        ),
        (
            "/usr/bin/lttng",
            vec!["add-context", "-u", "-t", "vpid", "-t", "procname"],
        ),
        ("/usr/bin/lttng", vec!["start"]),
    ] {
        run_in(&world, prog, &args);
    }
    ustd(&world, &["enable-event", "-u", "ustd_fixture:*"]);
    ustd(
        &world,
        &["add-context", "-u", "-t", "vpid", "-t", "procname"],
    );
    ustd(&world, &["start"]);

    // One app, registered with both daemons, emits one of each event.
    let mut app = world.spawn_app(&["-n", "1"]);
    assert!(app.wait_exit(GENEROUS).success(), "fixture app failed");

    run_in(&world, "/usr/bin/lttng", &["stop"]);
    run_in(&world, "/usr/bin/lttng", &["destroy"]);
    ustd(&world, &["stop"]);
    ustd(&world, &["destroy"]);

    let theirs = normalize(&metadata_text(&lttng_out));
    let ours = normalize(&metadata_text(&ustd_out));
    // Guard against comparing two empty or header-only texts.
    for (who, t) in [("lttng-sessiond", &theirs), ("ustd", &ours)] {
        for needle in [
            "ustd_fixture:simple",
            "ustd_fixture:rich",
            "ustd_fixture:debug",
            "_vpid",
            "_procname",
        ] {
            assert!(
                t.iter().any(|l| l.contains(needle)),
                "{who}'s metadata lacks {needle}"
            );
        }
    }
    if theirs != ours {
        let diff: Vec<String> = theirs
            .iter()
            .zip(ours.iter())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .take(20)
            .map(|(i, (a, b))| format!("line {}:\n  lttng: {a}\n  ustd:  {b}", i + 1))
            .collect();
        panic!(
            "TSDL differs ({} vs {} lines):\n{}",
            theirs.len(),
            ours.len(),
            diff.join("\n")
        );
    }
}
