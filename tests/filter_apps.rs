//! Issue 10: filters and exclusions set with ustd's own CLI reach real
//! LTTng-UST apps. Each filter gets its own session, all active at once, so
//! one run of the filter fixture app (tests/fixtures/filter_app) is recorded
//! by all of them; babeltrace2 reads each trace back and the events kept
//! must be exactly the ones the filter selects. Needs root, gcc,
//! liblttng-ust-dev, liblttng-ust-ctl5 and babeltrace2.

mod common;

use common::{run_with_timeout, ustd_bin, World, GENEROUS};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

/// Bound on one CLI call (`stop`/`destroy` flush traces).
const CLI_TIMEOUT: Duration = Duration::from_secs(120);
/// Events the fixture emits per event type (i = 0 .. N-1).
const N: i64 = 30;
const NAMES: [&str; 5] = ["alpha", "beta", "gamma", "alphabet", "a*b"];

/// Builds the filter fixture app once.
fn filter_app() -> &'static Path {
    static APP: OnceLock<PathBuf> = OnceLock::new();
    APP.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/filter_app");
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ustd-filter-fixture");
        let tmp = out.with_extension(format!("{}.tmp", std::process::id()));
        let o = Command::new("gcc")
            .args(["-O1", "-Wall", "-I"])
            .arg(&src)
            .arg("-o")
            .arg(&tmp)
            .arg(src.join("app.c"))
            .arg(src.join("tp.c"))
            .args(["-llttng-ust", "-ldl", "-lpthread"])
            .output()
            .expect("run gcc");
        assert!(
            o.status.success(),
            "building the filter fixture failed:\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        std::fs::rename(&tmp, &out).expect("install filter fixture");
        out
    })
}

fn ustd(w: &World, args: &[&str]) -> Output {
    let mut c = w.command_in(&ustd_bin());
    c.arg("--rundir")
        .arg(&w.rundir)
        .args(args)
        .env("LTTNG_HOME", &w.dir);
    run_with_timeout(c, CLI_TIMEOUT).unwrap_or_else(|e| panic!("{e}\n{}", w.daemon_log()))
}

fn ok(w: &World, args: &[&str]) -> String {
    let out = ustd(w, args);
    assert!(
        out.status.success(),
        "`ustd {}` failed: {}\n{}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout),
        w.daemon_log()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `(event name, i)` of every event babeltrace2 reads under `trace`.
fn events(trace: &Path) -> Vec<(String, i64)> {
    let out = run_with_timeout(
        {
            let mut c = Command::new("babeltrace2");
            c.arg(trace);
            c
        },
        CLI_TIMEOUT,
    )
    .expect("babeltrace2");
    assert!(
        out.status.success(),
        "babeltrace2 {}: {}",
        trace.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let name = l
                .split_whitespace()
                .find(|w| w.starts_with("ustd_filter:"))?;
            let i = l
                .split("{ i = ")
                .nth(1)?
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()?;
            Some((name.trim_end_matches(':').to_owned(), i))
        })
        .collect()
}

/// The `i` of the sample events a filter keeps, from the fixture's fields.
fn expected(keep: impl Fn(i64, &str, f64, i64, [i64; 3]) -> bool) -> Vec<i64> {
    (0..N)
        .filter(|&i| {
            keep(
                i,
                NAMES[(i % 5) as usize],
                i as f64 + 0.5,
                i % 3,
                [i, i + 1, 7],
            )
        })
        .collect()
}

/// Runs the fixture once (waiting for SIGUSR1 so every session is set up).
fn run_app(w: &World) -> i32 {
    let app = w.spawn_program(
        filter_app(),
        &[&N.to_string(), "-s"],
        &[("LTTNG_UST_REGISTER_TIMEOUT", Path::new("-1"))],
    );
    let pid = app.pid();
    app.wait_line("ready", GENEROUS);
    w.wait_registered(pid, GENEROUS);
    app.signal(libc::SIGUSR1);
    let mut app = app;
    app.wait_line("emitted", GENEROUS);
    assert!(app.wait_exit(GENEROUS).success());
    // Gone from the daemon too: a command racing the exit would report the
    // app as failed (exit 3).
    w.wait_gone(&[pid], GENEROUS);
    pid
}

#[test]
fn filters_select_events_on_real_apps() {
    let w = World::start();
    type Keep = Box<dyn Fn(i64, &str, f64, i64, [i64; 3]) -> bool>;
    let cases: Vec<(&str, Keep)> = vec![
        (
            "i >= 10 && i < 20",
            Box::new(|i, _, _, _, _| (10..20).contains(&i)),
        ),
        (
            "i == 0x1c || i == 017",
            Box::new(|i, _, _, _, _| i == 28 || i == 15),
        ),
        ("name == \"alpha\"", Box::new(|_, n, _, _, _| n == "alpha")),
        (
            "name == \"alpha*\"",
            Box::new(|_, n, _, _, _| n.starts_with("alpha")),
        ),
        (
            "name == \"*ph*\"",
            Box::new(|_, n, _, _, _| n.contains("ph")),
        ),
        ("name == \"a\\*b\"", Box::new(|_, n, _, _, _| n == "a*b")),
        (
            "d > 5.0 && d < 8.0",
            Box::new(|_, _, d, _, _| d > 5.0 && d < 8.0),
        ),
        ("color == 2", Box::new(|_, _, _, c, _| c == 2)),
        ("arr[1] == 5", Box::new(|_, _, _, _, a| a[1] == 5)),
        (
            "big > 20000000000000",
            Box::new(|i, _, _, _, _| i * 1_000_000_000_000 > 20_000_000_000_000),
        ),
        // && binds tighter than ||: i == 0 || (i == 1 && name == "gamma").
        (
            "i == 0 || i == 1 && name == \"gamma\"",
            Box::new(|i, _, _, _, _| i == 0),
        ),
        (
            "(i & 1) == 1 && !(i > 10)",
            Box::new(|i, _, _, _, _| i & 1 == 1 && i <= 10),
        ),
        ("-i < -25", Box::new(|i, _, _, _, _| i > 25)),
        ("~i == -4", Box::new(|i, _, _, _, _| i == 3)),
    ];
    let mut sessions = Vec::new();
    for (n, (filter, keep)) in cases.into_iter().enumerate() {
        let name = format!("f{n}");
        let out = w.dir.join(&name);
        ok(&w, &["create", &name, "-o", out.to_str().expect("UTF-8")]);
        ok(
            &w,
            &[
                "enable-event",
                "-u",
                "ustd_filter:sample",
                "-s",
                &name,
                "--filter",
                filter,
            ],
        );
        ok(&w, &["start", &name]);
        sessions.push((name, out, filter, expected(keep)));
    }
    run_app(&w);
    for (name, out, filter, want) in sessions {
        ok(&w, &["stop", &name]);
        ok(&w, &["destroy", &name]);
        let got: Vec<i64> = events(&out).into_iter().map(|(_, i)| i).collect();
        assert_eq!(got, want, "filter {filter:?}");
    }
}

#[test]
fn vpid_filter_keeps_one_app() {
    let w = World::start();
    let out = w.dir.join("v");
    let env = [("LTTNG_UST_REGISTER_TIMEOUT", Path::new("-1"))];
    let a = w.spawn_program(filter_app(), &["3", "-s"], &env);
    let b = w.spawn_program(filter_app(), &["3", "-s"], &env);
    for app in [&a, &b] {
        app.wait_line("ready", GENEROUS);
        w.wait_registered(app.pid(), GENEROUS);
    }
    ok(&w, &["create", "v", "-o", out.to_str().expect("UTF-8")]);
    let filter = format!("$ctx.vpid == {}", a.pid());
    ok(
        &w,
        &[
            "enable-event",
            "-u",
            "ustd_filter:sample",
            "--filter",
            &filter,
        ],
    );
    ok(&w, &["add-context", "-u", "-t", "vpid"]);
    ok(&w, &["start"]);
    for app in [&a, &b] {
        app.signal(libc::SIGUSR1);
        app.wait_line("emitted", GENEROUS);
    }
    // Both exit after emitting: gone from the daemon before `stop`, which
    // would otherwise race their exit and report them (exit 3).
    w.wait_gone(&[a.pid(), b.pid()], GENEROUS);
    ok(&w, &["stop"]);
    ok(&w, &["destroy"]);
    let text = bt(&out);
    let vpids: Vec<i64> = text
        .lines()
        .filter_map(|l| {
            l.split("vpid = ")
                .nth(1)?
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(
        vpids,
        vec![i64::from(a.pid()); 3],
        "only app {} passes: {text}",
        a.pid()
    );
}

/// babeltrace2's text output of the trace under `path`.
fn bt(path: &Path) -> String {
    let mut c = Command::new("babeltrace2");
    c.arg(path);
    let out = run_with_timeout(c, CLI_TIMEOUT).expect("babeltrace2");
    assert!(
        out.status.success(),
        "babeltrace2 {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `-x` keeps the excluded event out; two rules with one name and different
/// filters are two rules (their union is recorded, each event once); `list`
/// shows filters and exclusions.
#[test]
fn exclusions_and_rules_keyed_on_filter() {
    let w = World::start();
    let out = w.dir.join("x");
    ok(&w, &["create", "x", "-o", out.to_str().expect("UTF-8")]);
    ok(
        &w,
        &[
            "enable-event",
            "-u",
            "ustd_filter:*",
            "-x",
            "ustd_filter:other,ustd_filter:nothing",
            "--filter",
            "i < 3",
        ],
    );
    ok(
        &w,
        &[
            "enable-event",
            "-u",
            "ustd_filter:*",
            "-x",
            "ustd_filter:other,ustd_filter:nothing",
            "--filter",
            "i > 27",
        ],
    );
    // Same rule again (same bytecode, exclusions in another order): not a third rule.
    ok(
        &w,
        &[
            "enable-event",
            "-u",
            "ustd_filter:*",
            "-x",
            "ustd_filter:nothing,ustd_filter:other",
            "--filter",
            "i>27",
        ],
    );
    let listed = ok(&w, &["list", "x"]);
    assert!(
        listed.contains("filter: i < 3") && listed.contains("filter: i > 27"),
        "{listed}"
    );
    assert!(
        listed.contains("exclusions: ustd_filter:other, ustd_filter:nothing"),
        "{listed}"
    );
    let json: Value = serde_json::from_str(&ok(&w, &["list", "x", "--json"])).expect("JSON");
    let rules = json["channels"][0]["events"]
        .as_array()
        .expect("events")
        .clone();
    assert_eq!(rules.len(), 2, "{json}");
    assert_eq!(rules[0]["key"]["filter"]["expression"], "i < 3", "{json}");
    assert_eq!(
        rules[0]["key"]["exclusions"][0], "ustd_filter:other",
        "{json}"
    );
    ok(&w, &["start"]);
    run_app(&w);
    ok(&w, &["stop"]);
    ok(&w, &["destroy"]);
    let got = events(&out);
    let want: Vec<(String, i64)> = [0, 1, 2, 28, 29]
        .iter()
        .map(|&i| ("ustd_filter:sample".to_owned(), i))
        .collect();
    assert_eq!(got, want);
}

/// An invalid filter is refused by the CLI with the position of the problem.
#[test]
fn invalid_filter_names_the_position() {
    let w = World::start();
    ok(
        &w,
        &[
            "create",
            "e",
            "-o",
            w.dir.join("e").to_str().expect("UTF-8"),
        ],
    );
    let out = ustd(
        &w,
        &[
            "enable-event",
            "-u",
            "ustd_filter:sample",
            "--filter",
            "i == 1 && name @ 2",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("column 16") && err.contains("'@'"), "{err}");
    let out = ustd(
        &w,
        &[
            "enable-event",
            "-u",
            "ustd_filter:sample",
            "-x",
            "ustd_filter:other",
        ],
    );
    assert!(!out.status.success(), "exclusions need a pattern with `*`");
}

/// `ustd record` takes the same `--filter` and `-x`.
#[test]
fn record_applies_filter_and_exclusions() {
    let w = World::start();
    let out = w.dir.join("rec");
    let app = filter_app().to_str().expect("UTF-8");
    ok(
        &w,
        &[
            "record",
            "-o",
            out.to_str().expect("UTF-8"),
            "--filter",
            "i < 2 || i == 4",
            "-x",
            "ustd_filter:other",
            "--",
            app,
            "6",
        ],
    );
    let want: Vec<(String, i64)> = [0, 1, 4]
        .iter()
        .map(|&i| ("ustd_filter:sample".to_owned(), i))
        .collect();
    assert_eq!(events(&out), want);
}
