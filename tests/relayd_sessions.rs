//! Issue 11: sessions streamed to a stock lttng-relayd 2.13. ustd runs as the
//! root daemon of a private namespace, driven by the stock `lttng` CLI (and
//! once by ustd's own); real fixture apps emit; babeltrace2 reads the relayd's
//! copy, whose index files must tile their streams. Also live viewing while
//! the app runs, and a relayd killed mid-session.
//! Needs root, gcc, liblttng-ust-dev, lttng-tools (lttng, lttng-relayd) and
//! babeltrace2.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::lttng::{lttng, ok, ok_with, ustd_cli, Sessiond};
use common::relayd::{check_index, hostname, read_trace, streams, Relayd};
use common::*;

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs the fixture app to its end; returns (pid, events emitted).
fn run_app(w: &World, args: &[&str]) -> (i32, usize) {
    let mut app = w.spawn_app(args);
    let line = app.wait_line("emitted ", GENEROUS);
    app.wait_line("exiting", GENEROUS);
    assert!(app.wait().success());
    let line = line.trim_start_matches("emitted ");
    let n = line.split_whitespace().next().unwrap().parse().unwrap();
    (app.pid(), n)
}

fn fixture_events(lines: &[String]) -> usize {
    lines.iter().filter(|l| l.contains("ustd_fixture:")).count()
}

/// Every data stream of a buffer-set directory has an index that tiles it;
/// returns how many packets they hold.
fn check_indexes(dir: &Path) -> usize {
    let names = streams(dir);
    assert!(!names.is_empty(), "{}: no streams", dir.display());
    names
        .iter()
        .map(|n| check_index(&dir.join(n), &dir.join("index").join(format!("{n}.idx"))).len())
        .sum()
}

const CHANNEL: [&str; 7] = [
    "enable-channel",
    "-u",
    "c",
    "--subbuf-size",
    "64k",
    "--num-subbuf",
    "8",
];

#[test]
fn per_uid_session_through_the_stock_cli() {
    let w = World::builder().without_daemon();
    let relayd = Relayd::start(&w);
    let _d = Sessiond::ustd(&w);
    let url = relayd.url();
    let out = ok(&w, &["create", "s", "--set-url", &url]);
    let shown = format!(
        "tcp4://127.0.0.1:{}/ [data: {}]",
        relayd.ctrl.port(),
        relayd.data.port()
    );
    // lttng-sessiond 2.13.9 prints and lists exactly this for such a URL.
    assert!(
        out.contains(&format!("Traces will be output to {shown}")),
        "{out}"
    );
    assert!(
        ok(&w, &["list", "s"]).contains(&format!("Trace output: {shown}")),
        "lttng list s"
    );
    ok(&w, &CHANNEL);
    ok(&w, &["enable-event", "-u", "ustd_fixture:*", "-c", "c"]);
    ok(&w, &["start"]);
    let (_, a) = run_app(&w, &["-n", "700", "-e", "all"]);
    // A relayd that lags while the second app's packets go out: `stop` must
    // wait for it (a 1.5 s pause, within the relayd client's 5 s call
    // deadline with a 3x margin).
    relayd.signal(libc::SIGSTOP);
    let pid = relayd.child.id() as i32;
    let resume = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        signal(pid, libc::SIGCONT);
    });
    let (_, b) = run_app(&w, &["-n", "300", "-e", "simple"]);
    ok(&w, &["stop"]);
    // `stop` returned: the relayd holds everything already.
    let dir = relayd
        .session_dir("s")
        .join("ust/uid")
        .join(euid().to_string())
        .join("64-bit");
    let packets = check_indexes(&dir);
    assert!(packets >= 2, "{packets} packets");
    assert_eq!(fixture_events(&read_trace(&dir)), a + b);
    resume.join().unwrap();
    ok(&w, &["destroy"]);
}

#[test]
fn per_pid_session_through_the_stock_cli() {
    let w = World::builder().without_daemon();
    let relayd = Relayd::start(&w);
    let _d = Sessiond::ustd(&w);
    ok(&w, &["create", "p", "--set-url", &relayd.url()]);
    let mut chan = CHANNEL.to_vec();
    chan.push("--buffers-pid");
    ok(&w, &chan);
    ok(&w, &["enable-event", "-u", "ustd_fixture:*", "-c", "c"]);
    ok(&w, &["start"]);
    let apps = [
        run_app(&w, &["-n", "200", "-e", "all"]),
        run_app(&w, &["-n", "100", "-e", "rich"]),
    ];
    ok(&w, &["stop"]);
    let root = relayd.session_dir("p").join("ust/pid");
    for (pid, n) in apps {
        let dir = std::fs::read_dir(&root)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().contains(&format!("-{pid}-")))
            .unwrap_or_else(|| panic!("no directory for pid {pid} in {}", root.display()));
        check_indexes(&dir);
        assert_eq!(fixture_events(&read_trace(&dir)), n, "{}", dir.display());
    }
    ok(&w, &["destroy"]);
}

#[test]
fn ustd_cli_session_and_unreachable_relayd() {
    let w = World::builder().without_daemon();
    let relayd = Relayd::start(&w);
    let _d = Sessiond::ustd(&w);
    // Nobody listens there: create fails clearly, in both CLIs, and for a
    // snapshot session too (lttng-sessiond fails the first channel instead).
    let dead = format!(
        "net://127.0.0.1:{}:{}",
        common::relayd::free_port(),
        common::relayd::free_port()
    );
    for args in [
        &["create", "gone", "--set-url", &dead][..],
        &["create", "gone", "--snapshot", "--set-url", &dead][..],
    ] {
        for o in [ustd_cli(&w, args), lttng(&w, args)] {
            assert!(!o.status.success(), "{args:?}");
            assert!(
                text(&o).contains("Unable to connect to lttng-relayd"),
                "{}",
                text(&o)
            );
        }
    }
    assert!(!ok(&w, &["list"]).contains("gone"), "no session was left");

    let (c, d) = (relayd.ctrl.port(), relayd.data.port());
    ok_with(
        ustd_cli,
        &w,
        &[
            "create",
            "u",
            "-C",
            &format!("tcp://127.0.0.1:{c}"),
            "-D",
            &format!("tcp://127.0.0.1:{d}"),
        ],
    );
    ok_with(
        ustd_cli,
        &w,
        &["enable-event", "-u", "-s", "u", "ustd_fixture:*"],
    );
    ok_with(ustd_cli, &w, &["start", "u"]);
    let (_, n) = run_app(&w, &["-n", "500", "-e", "all"]);
    ok_with(ustd_cli, &w, &["stop", "u"]);
    let json: serde_json::Value =
        serde_json::from_str(&ok_with(ustd_cli, &w, &["list", "u", "--json"])).unwrap();
    let relay = &json["relay"];
    assert_eq!(relay["packets_lost"], 0, "{json}");
    assert!(relay["packets_sent"].as_u64().unwrap() >= 1, "{json}");
    let dir = relayd
        .session_dir("u")
        .join("ust/uid")
        .join(euid().to_string())
        .join("64-bit");
    check_indexes(&dir);
    assert_eq!(fixture_events(&read_trace(&dir)), n);
    ok_with(ustd_cli, &w, &["destroy", "u"]);
}

#[test]
fn live_reader_sees_events_before_stop() {
    let w = World::builder().without_daemon();
    let relayd = Relayd::start(&w);
    let _d = Sessiond::ustd(&w);
    ok(
        &w,
        &["create", "lv", "--live=200000", "--set-url", &relayd.url()],
    );
    ok(&w, &["enable-event", "-u", "ustd_fixture:simple"]);
    ok(&w, &["start"]);
    // Each app emits 5 events on its own CPU, then waits (tracing on) until
    // told to stop.
    let app_on = |cpu: &str| {
        let fixture = fixture_app().to_str().unwrap().to_owned();
        let app = w.spawn_program(
            Path::new("taskset"),
            &["-c", cpu, &fixture, "-n", "5", "-e", "simple", "-w"],
            &[],
        );
        app.wait_line("emitted ", GENEROUS);
        app
    };
    let mut first = app_on("0");
    let mut viewer = Command::new("babeltrace2")
        .arg("--input-format=lttng-live")
        .arg(format!("net://{}/host/{}/lv", relayd.live, hostname()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("babeltrace2");
    let (tx, rx) = mpsc::channel();
    let out = viewer.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                return;
            }
        }
    });
    let mut seen = Vec::new();
    let mut wait_for = |n: usize| {
        let t = Instant::now();
        while seen.len() < n && t.elapsed() < GENEROUS {
            if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
                if l.contains("ustd_fixture:simple") {
                    seen.push(l);
                }
            }
        }
        seen.len()
    };
    // The live timer flushes the partial sub-buffer of CPU 0.
    assert_eq!(wait_for(5), 5, "live viewer, first app");
    // CPU 0's stream is idle from now on: only its beacons let the viewer
    // order CPU 1's newer events after it.
    let mut second = app_on("1");
    let n = wait_for(10);
    let _ = viewer.kill();
    let _ = viewer.wait();
    assert_eq!(n, 10, "live viewer, second app");
    // The session is still active and the apps still alive: the events came
    // through the live timer, not a stop.
    assert!(ok(&w, &["list", "lv"]).contains("[active]"));
    for app in [&mut first, &mut second] {
        app.signal(libc::SIGTERM);
        app.wait();
    }
    ok(&w, &["destroy"]);
}

#[test]
fn relayd_killed_mid_session() {
    let w = World::builder().without_daemon();
    let mut relayd = Relayd::start(&w);
    let mut d = Sessiond::ustd(&w);
    let local = w.dir.join("local");
    ok(&w, &["create", "n", "--set-url", &relayd.url()]);
    ok(&w, &["enable-event", "-u", "-s", "n", "ustd_fixture:*"]);
    ok(&w, &["create", "l", "-o", local.to_str().unwrap()]);
    ok(&w, &["enable-event", "-u", "-s", "l", "ustd_fixture:*"]);
    ok(&w, &["start", "n"]);
    ok(&w, &["start", "l"]);
    let (_, a) = run_app(&w, &["-n", "300", "-e", "all"]);
    relayd.child.kill().unwrap();
    relayd.child.wait().unwrap();
    let (_, b) = run_app(&w, &["-n", "300", "-e", "all"]);
    let t = Instant::now();
    let stop = lttng(&w, &["stop", "n"]);
    // Bounded by the relayd client's call deadline (5 s), not a hang.
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
    assert!(d.alive());
    // lttng prints the channel's lost packets at stop.
    assert!(
        text(&stop).contains("lost"),
        "lttng stop n: {}",
        text(&stop)
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok_with(ustd_cli, &w, &["list", "n", "--json"])).unwrap();
    assert!(
        json["relay"]["packets_lost"].as_u64().unwrap() >= 1,
        "{json}"
    );
    assert!(json["relay"]["error"].is_string(), "{json}");
    // The local session beside it is complete, and apps still register.
    ok(&w, &["stop", "l"]);
    assert_eq!(fixture_events(&read_trace(&local)), a + b);
    let (_, c) = run_app(&w, &["-n", "1"]);
    assert_eq!(c, 3);
    ok(&w, &["destroy", "n"]);
    ok(&w, &["destroy", "l"]);
    assert!(d.alive());
}

/// A relayd that stops reading (here: SIGSTOP) costs events the apps
/// discard and count, as with lttng-consumerd, never whole packets dropped
/// by the consumer: every event the app emitted is read at the relayd or
/// counted discarded. Meanwhile the session's consumer, holding its
/// streams back instead of blocking on the network, still answers.
#[test]
fn paused_relayd_costs_counted_events_not_packets() {
    let w = World::builder().without_daemon();
    let relayd = Relayd::start(&w);
    let _d = Sessiond::ustd(&w);
    ok(&w, &["create", "p", "--set-url", &relayd.url()]);
    // Small sub-buffers: many packets, so a consumer that dropped what its
    // relayd queue cannot take would drop some.
    ok(
        &w,
        &[
            "enable-channel",
            "-u",
            "c",
            "-s",
            "p",
            "--discard",
            "--subbuf-size",
            "4k",
            "--num-subbuf",
            "8",
        ],
    );
    ok(
        &w,
        &["enable-event", "-u", "-s", "p", "-c", "c", "ustd_fixture:*"],
    );
    ok(&w, &["start", "p"]);
    // The buffers and their streams at the relayd exist before the pause
    // (announcing a stream to a stopped relayd is a failed call).
    let (_, first) = run_app(&w, &["-n", "10", "-e", "all"]);
    relayd.signal(libc::SIGSTOP);
    // Far more than the ring buffers, the relayd queue and the sockets
    // hold. The pause stays well under the relayd calls' 5 s deadline.
    let (_, n) = run_app(&w, &["-n", "100000", "-e", "all"]);
    let n = first + n;
    let t = Instant::now();
    let held = ok_with(ustd_cli, &w, &["list", "p", "--json"]);
    let answered = t.elapsed();
    relayd.signal(libc::SIGCONT);
    // The consumer answers from its loop (ms); a consumer blocked on the
    // paused relayd would answer only after it resumed.
    assert!(
        answered < Duration::from_millis(500),
        "{answered:?}: {held}"
    );
    ok(&w, &["stop", "p"]);
    let json: serde_json::Value =
        serde_json::from_str(&ok_with(ustd_cli, &w, &["list", "p", "--json"])).unwrap();
    assert_eq!(json["relay"]["packets_lost"], 0, "{json}");
    let discarded = json["buffers"]["c"]["discarded_events"].as_u64().unwrap() as usize;
    assert!(discarded > 0, "the pause filled the buffers: {json}");
    let dir = relayd
        .session_dir("p")
        .join("ust/uid")
        .join(euid().to_string())
        .join("64-bit");
    check_indexes(&dir);
    let read = fixture_events(&read_trace(&dir));
    assert_eq!(
        read + discarded,
        n,
        "read {read}, discarded {discarded}: {json}"
    );
    ok(&w, &["destroy", "p"]);
}
