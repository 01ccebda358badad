//! Snapshot sessions (issue 12) through the stock `lttng` CLI against ustd,
//! with real fixture apps, every record read back by babeltrace2 on its own.
//!
//! The apps are pinned to CPU 0 (`taskset`), so all their events land in
//! one stream per buffer set and "the latest events" is a contiguous run of
//! the values the app emitted, ending with the last one.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::lttng::*;
use common::*;

/// Events each app emits: far more than the 4 x 4 KiB sub-buffers hold, so
/// overwrite mode must have dropped the oldest.
const EMITTED: i64 = 5000;

/// Starts a fixture app on CPU 0 that emits `value` 0..EMITTED, then waits.
fn emitting_app(w: &World) -> App {
    let app = w.spawn_program(
        Path::new("taskset"),
        &[
            "-c",
            "0",
            fixture_app().to_str().unwrap(),
            "-n",
            &EMITTED.to_string(),
            "-e",
            "simple",
            "-w",
        ],
        &[],
    );
    app.wait_line("emitted", GENEROUS);
    app
}

/// Streams per channel: lttng-ust makes one per possible CPU.
fn possible_cpus() -> usize {
    let s = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap();
    s.trim()
        .split(',')
        .map(|r| match r.split_once('-') {
            Some((a, b)) => b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap() + 1,
            None => 1,
        })
        .sum()
}

/// `value` of every `ustd_fixture:simple` event of a trace, by vpid.
fn values_by_pid(dir: &Path) -> BTreeMap<i64, Vec<i64>> {
    let mut out: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for l in babeltrace(dir) {
        if !l.contains("ustd_fixture:simple") {
            continue;
        }
        let field = |name: &str| -> i64 {
            let at = l
                .find(&format!("{name} = "))
                .unwrap_or_else(|| panic!("no {name}: {l}"));
            let rest = &l[at + name.len() + 3..];
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            rest[..end].parse().unwrap()
        };
        out.entry(field("vpid")).or_default().push(field("value"));
    }
    out
}

/// Each pid's values are the latest ones: a contiguous run, in order,
/// ending with the last value emitted, and not all of them (overwritten).
fn assert_latest_run(what: &str, values: &[i64]) {
    let (Some(&first), Some(&last)) = (values.first(), values.last()) else {
        panic!("{what}: no events");
    };
    let gap = values.windows(2).find(|w| w[1] != w[0] + 1);
    assert!(
        gap.is_none() && last == EMITTED - 1,
        "{what}: not a contiguous run ending at {}: {} events from {first} to {last}, first break at {gap:?}",
        EMITTED - 1,
        values.len()
    );
    assert!(
        first > 0,
        "{what}: nothing was overwritten, the test proves nothing"
    );
}

/// The directories in `dir`, by their `-N` suffix (records, archives).
fn by_index(dir: std::fs::ReadDir) -> Vec<(u64, PathBuf)> {
    let mut v: Vec<(u64, PathBuf)> = dir
        .map(|e| e.unwrap().path())
        .map(|p| {
            let n = p.to_str().unwrap().rsplit('-').next().unwrap();
            (n.parse().unwrap(), p)
        })
        .collect();
    v.sort();
    v
}

/// Ends the emitting apps (SIGTERM), then destroys session `s`.
fn end_apps_and_destroy<const N: usize>(w: &World, apps: [App; N]) {
    for a in &apps {
        a.signal(libc::SIGTERM);
    }
    for mut a in apps {
        a.wait();
    }
    ok(w, &["destroy", "s"]);
}

/// The record directories under `out`, oldest first.
fn records(out: &Path) -> Vec<PathBuf> {
    let dir = std::fs::read_dir(out).unwrap();
    by_index(dir).into_iter().map(|(_, p)| p).collect()
}

/// `snapshot-1-YYYYmmdd-HHMMSS-N`, lttng 2.13's naming.
fn assert_record_name(p: &Path, name: &str, n: u64) {
    let f = p.file_name().unwrap().to_str().unwrap();
    let rest = f
        .strip_prefix(&format!("{name}-"))
        .unwrap_or_else(|| panic!("{f}"));
    let parts: Vec<&str> = rest.split('-').collect();
    assert_eq!(parts.len(), 3, "{f}");
    assert!(parts[0].len() == 8 && parts[1].len() == 6, "{f}");
    assert_eq!(parts[2], n.to_string(), "{f}");
}

fn snapshot_records_hold_the_latest_events(buffers: &str, cli: Cli) {
    let ok = |w: &World, args: &[&str]| ok_with(cli, w, args);
    let w = World::builder().without_daemon();
    let _d = Sessiond::ustd(&w);
    let out = w.dir.join("snapshots");
    let out_s = out.to_str().unwrap();
    ok(&w, &["create", "s", "--snapshot", "-o", out_s]);
    let listed = ok(&w, &["snapshot", "list-output", "-s", "s"]);
    assert!(
        listed.contains(&format!("[1] snapshot-1: {out_s}")),
        "{listed}"
    );
    // No --overwrite: a snapshot session's channels default to it.
    simple_channel_with(cli, &w, "4", &[buffers]);
    ok(&w, &["start", "s"]);

    let first = emitting_app(&w);
    ok(&w, &["snapshot", "record", "-s", "s"]);
    // Tracing goes on: a second app's events reach the next record.
    let second = emitting_app(&w);
    ok(&w, &["snapshot", "record", "-s", "s"]);
    // -m: one 4 KiB sub-buffer of each stream (one per CPU, per set) fits once.
    let sets = if buffers == "--buffers-uid" { 1 } else { 2 };
    let one_each = (sets * possible_cpus() * 4096).to_string();
    ok(&w, &["snapshot", "record", "-s", "s", "-m", &one_each]);
    let o = cli(&w, &["snapshot", "record", "-s", "s", "-m", "4096"]);
    assert!(
        !o.status.success(),
        "a record smaller than one sub-buffer per stream must be refused"
    );

    let recs = records(&out);
    assert_eq!(recs.len(), 3, "{recs:?}");
    for (n, r) in recs.iter().enumerate() {
        assert_record_name(r, "snapshot-1", n as u64);
        assert!(
            r.join("ust").join(&buffers[10..]).is_dir(),
            "{}: no per-{} tree",
            r.display(),
            &buffers[10..]
        );
    }
    let (p1, p2) = (first.pid() as i64, second.pid() as i64);

    let r0 = values_by_pid(&recs[0]);
    assert_eq!(r0.keys().copied().collect::<Vec<_>>(), vec![p1], "record 0");
    assert_latest_run("record 0", &r0[&p1]);

    let r1 = values_by_pid(&recs[1]);
    assert_latest_run("record 1, second app", &r1[&p2]);
    match buffers {
        // Shared buffers: the second app's events overwrote the first's.
        "--buffers-uid" => assert_eq!(r1.len(), 1, "record 1: {:?}", r1.keys()),
        // Its own buffers: the first app's are still as they were.
        _ => assert_eq!(r1[&p1], r0[&p1], "record 1, first app"),
    }

    let r2 = values_by_pid(&recs[2]);
    for (pid, v) in &r2 {
        assert_latest_run(&format!("record 2 (-m), pid {pid}"), v);
        let full = &r1[pid];
        assert!(
            v.len() < full.len(),
            "-m kept {} of {} events",
            v.len(),
            full.len()
        );
    }

    end_apps_and_destroy(&w, [first, second]);
}

#[test]
fn snapshot_records_hold_the_latest_events_per_uid() {
    snapshot_records_hold_the_latest_events("--buffers-uid", lttng);
}

#[test]
fn snapshot_records_hold_the_latest_events_with_ustd_cli() {
    snapshot_records_hold_the_latest_events("--buffers-uid", ustd_cli);
}

#[test]
fn snapshot_records_hold_the_latest_events_per_pid() {
    snapshot_records_hold_the_latest_events("--buffers-pid", lttng);
}

/// Runs the fixture app to completion (CPU 0), emitting `value` 0..n.
fn run_to_end(w: &World, n: i64) -> i64 {
    let mut app = w.spawn_program(
        Path::new("taskset"),
        &[
            "-c",
            "0",
            fixture_app().to_str().unwrap(),
            "-n",
            &n.to_string(),
            "-e",
            "simple",
        ],
        &[],
    );
    let pid = app.pid() as i64;
    app.wait_line("exiting", GENEROUS);
    app.wait();
    pid
}

#[test]
fn clear_discards_recorded_events_and_recording_goes_on() {
    let (w, _d, out) = ustd_session();
    clear_mid_run(&w, || out.clone());
    ok(&w, &["destroy", "s"]);
}

/// Session `s` of `w` records an app's events, more than the buffers hold
/// (most of it written out, the rest in the buffers: the app stays, so its
/// last sub-buffer is not delivered), is cleared, and records another app:
/// the trace at `written()` after `stop` holds only the second app's
/// events, each once, in order.
fn clear_mid_run(w: &World, written: impl Fn() -> PathBuf) {
    simple_channel(w, "4");
    ok(w, &["start", "s"]);
    let mut first = emitting_app(w);
    let before = first.pid() as i64;
    let cleared = ok(w, &["clear", "s"]);
    assert!(cleared.contains("cleared"), "{cleared}");
    first.signal(libc::SIGTERM);
    first.wait();
    let after = run_to_end(w, 300);
    ok(w, &["stop", "s"]);
    let got = values_by_pid(&written());
    assert!(
        !got.contains_key(&before),
        "events recorded before the clear are still there"
    );
    let want: Vec<i64> = (0..300).collect();
    assert_eq!(
        got.get(&after),
        Some(&want),
        "events after the clear, each once, in order"
    );
}

/// `lttng_ust_statedump:start` events in a trace.
fn statedumps(dir: &Path) -> usize {
    babeltrace(dir)
        .iter()
        .filter(|l| l.contains("lttng_ust_statedump:start"))
        .count()
}

#[test]
fn regenerate_statedump_makes_the_app_dump_again() {
    let (w, _d, out) = ustd_session();
    ok(
        &w,
        &[
            "enable-event",
            "-u",
            "lttng_ust_statedump:*,ustd_fixture:simple",
            "-s",
            "s",
        ],
    );
    // Refused before start with lttng-sessiond's code: the stock CLI then
    // prints nothing and exits 118 (SESSION_NOT_STARTED), as with
    // lttng-sessiond 2.13.9 (checked side by side).
    let early = lttng(&w, &["regenerate", "statedump", "-s", "s"]);
    assert_eq!(early.status.code(), Some(118), "{early:?}");
    ok(&w, &["start", "s"]);
    let mut app = w.spawn_app(&["-n", "10", "-e", "simple", "-w"]);
    app.wait_line("emitted", GENEROUS);
    ok(&w, &["regenerate", "statedump", "-s", "s"]);
    ok(&w, &["regenerate", "statedump", "-s", "s"]);
    app.signal(libc::SIGTERM);
    app.wait();
    ok(&w, &["stop", "s"]);
    // One at registration, one per regenerate.
    assert_eq!(statedumps(&out), 3);
    ok(&w, &["destroy", "s"]);
}

/// `<begin>-<end>-<index>` with lttng's `%Y%m%dT%H%M%S%z` times.
fn assert_archive_name(p: &Path, index: u64) {
    let f = p.file_name().unwrap().to_str().unwrap();
    let (stamps, n) = f.rsplit_once('-').unwrap_or_else(|| panic!("{f}"));
    assert_eq!(n, index.to_string(), "{f}");
    // 20261201T165919+0000-20261201T165920+0000
    assert_eq!(stamps.len(), 2 * 20 + 1, "{f}");
    for t in [&stamps[..20], &stamps[21..]] {
        assert!(
            t.as_bytes()[8] == b'T' && matches!(t.as_bytes()[15], b'+' | b'-'),
            "{f}"
        );
    }
}

/// The archive path a rotate printed.
fn archive_of(printed: &str, session: &str) -> PathBuf {
    let prefix = format!("Trace chunk archive for session {session} is now readable at ");
    let line = printed
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no archive path in: {printed}"));
    PathBuf::from(line.trim())
}

#[test]
fn rotations_split_the_trace_into_archives_without_loss_or_duplicate() {
    let (w, _d, out) = ustd_session();
    simple_channel(&w, "8");
    ok(&w, &["start", "s"]);
    // One event per millisecond for ~3 s: both rotations land mid-run.
    const N: i64 = 3000;
    let mut app = w.spawn_program(
        Path::new("taskset"),
        &[
            "-c",
            "0",
            fixture_app().to_str().unwrap(),
            "-n",
            &N.to_string(),
            "-i",
            "1",
            "-e",
            "simple",
        ],
        &[],
    );
    let pid = app.pid() as i64;
    app.wait_line("main reached", GENEROUS);
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let first = archive_of(&ok(&w, &["rotate", "s"]), "s");
    std::thread::sleep(std::time::Duration::from_millis(1000));
    // The second through ustd's own CLI: both front ends rotate.
    let second = archive_of(&ok_with(ustd_cli, &w, &["rotate", "s"]), "s");
    app.wait_line("exiting", GENEROUS);
    app.wait();
    ok(&w, &["stop", "s"]);
    let archives = out.join("archives");
    assert_eq!(first.parent(), Some(archives.as_path()));
    assert_eq!(second.parent(), Some(archives.as_path()));
    assert_archive_name(&first, 0);
    assert_archive_name(&second, 1);
    // The next chunk is written in `<output>/<begin>-2`, begun when the
    // second archive ended.
    let end = &second.file_name().unwrap().to_str().unwrap()[21..41];
    let last = out.join(format!("{end}-2"));
    assert!(
        last.join("ust").is_dir(),
        "no current chunk at {}",
        last.display()
    );
    // Destroy archives the last chunk too, and says where, as lttng does.
    let third = archive_of(&ok(&w, &["destroy", "s"]), "s");
    assert_eq!(third.parent(), Some(archives.as_path()));
    assert_archive_name(&third, 2);
    assert!(
        !last.exists(),
        "the last chunk was not moved into the archives"
    );
    let mut union = Vec::new();
    for (what, dir) in [
        ("archive 0", &first),
        ("archive 1", &second),
        ("archive 2", &third),
    ] {
        // Each read on its own: metadata complete in every chunk.
        let got = values_by_pid(dir).remove(&pid).unwrap_or_default();
        assert!(
            !got.is_empty(),
            "{what} ({}) holds no event of the app",
            dir.display()
        );
        union.extend(got);
    }
    let want: Vec<i64> = (0..N).collect();
    if union != want {
        let dup = union.windows(2).find(|w| w[1] <= w[0]);
        let gap = union.windows(2).find(|w| w[1] > w[0] + 1);
        panic!(
            "archives + last chunk: {} events, not 0..{N} once each in order (first duplicate/reorder {dup:?}, first gap {gap:?})",
            union.len()
        );
    }
}

/// A session `s` writing to `<world>/trace` with `simple_channel` of 8
/// sub-buffers.
fn rotating_session(w: &World) -> PathBuf {
    let out = w.dir.join("trace");
    ok(w, &["create", "s", "-o", out.to_str().unwrap()]);
    simple_channel(w, "8");
    out
}

/// Channel `c` of session `s`: 4 KiB x `num_subbuf` sub-buffers with
/// `ustd_fixture:simple` and the vpid context.
fn simple_channel(w: &World, num_subbuf: &str) {
    simple_channel_with(lttng, w, num_subbuf, &[]);
}

/// [`simple_channel`] through `cli`, with `extra` channel options.
fn simple_channel_with(cli: Cli, w: &World, num_subbuf: &str, extra: &[&str]) {
    let mut channel = vec![
        "enable-channel",
        "-u",
        "c",
        "-s",
        "s",
        "--subbuf-size",
        "4096",
        "--num-subbuf",
        num_subbuf,
    ];
    channel.extend_from_slice(extra);
    ok_with(cli, w, &channel);
    ok_with(
        cli,
        w,
        &[
            "enable-event",
            "-u",
            "ustd_fixture:simple",
            "-c",
            "c",
            "-s",
            "s",
        ],
    );
    ok_with(
        cli,
        w,
        &["add-context", "-u", "-t", "vpid", "-c", "c", "-s", "s"],
    );
}

/// Starts the fixture app on CPU 0, one event per millisecond: `value`
/// 0..n.
fn paced_app(w: &World, n: i64) -> App {
    let app = w.spawn_program(
        Path::new("taskset"),
        &[
            "-c",
            "0",
            fixture_app().to_str().unwrap(),
            "-n",
            &n.to_string(),
            "-i",
            "1",
            "-e",
            "simple",
        ],
        &[],
    );
    app.wait_line("main reached", GENEROUS);
    app
}

/// The archives under `<out>/archives`, by index.
fn archives(out: &Path) -> Vec<PathBuf> {
    let Ok(dir) = std::fs::read_dir(out.join("archives")) else {
        return Vec::new();
    };
    let v = by_index(dir);
    for (i, (n, p)) in v.iter().enumerate() {
        assert_eq!(*n, i as u64, "archive indexes 0, 1, ...: {}", p.display());
        assert_archive_name(p, *n);
    }
    v.into_iter().map(|(_, p)| p).collect()
}

/// The union of the app's events over `dirs`, each read alone by
/// babeltrace2, is 0..n once each, in order.
fn assert_union_is_all(dirs: &[PathBuf], pid: i64, n: i64) {
    let mut union = Vec::new();
    let mut holding = 0;
    for dir in dirs {
        let got = values_by_pid(dir).remove(&pid).unwrap_or_default();
        holding += usize::from(!got.is_empty());
        union.extend(got);
    }
    let want: Vec<i64> = (0..n).collect();
    if union != want {
        let dup = union.windows(2).find(|w| w[1] <= w[0]);
        let gap = union.windows(2).find(|w| w[1] > w[0] + 1);
        panic!(
            "{} archives: {} events, not 0..{n} once each in order (first duplicate/reorder {dup:?}, first gap {gap:?})",
            dirs.len(),
            union.len()
        );
    }
    assert!(
        holding >= 3,
        "only {holding} archives hold events of the app"
    );
}

#[test]
fn size_schedule_rotates_into_archives_without_loss_or_duplicate() {
    let w = World::builder().without_daemon();
    let _d = Sessiond::ustd(&w);
    let out = rotating_session(&w);
    // ~3,000 events of ~30 bytes: ~24 packets of 4 KiB; a rotation every 4.
    let set = ok(&w, &["enable-rotation", "-s", "s", "--size", "16k"]);
    assert!(
        set.contains("Enabled size-based rotations every 16384 bytes written on session s"),
        "{set}"
    );
    ok(&w, &["start", "s"]);
    const N: i64 = 3000;
    let mut app = paced_app(&w, N);
    let pid = app.pid() as i64;
    app.wait_line("exiting", GENEROUS);
    app.wait();
    ok(&w, &["stop", "s"]);
    let by_size = archives(&out).len();
    assert!(by_size >= 3, "{by_size} size rotations, want >= 3");
    // The flush at stop may cross the threshold once more: that rotation
    // closes the last chunk and destroy has nothing left to archive (as
    // lttng: one rotation after a stop).
    let destroyed = ok(&w, &["destroy", "s"]);
    let all = archives(&out);
    if destroyed.contains("Trace chunk archive") {
        assert_eq!(all.last(), Some(&archive_of(&destroyed, "s")));
    }
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "archives")
        .collect();
    assert!(left.is_empty(), "chunks not archived: {left:?}");
    assert_union_is_all(&all, pid, N);
}

#[test]
fn timer_schedule_rotates_while_the_app_runs_until_disabled() {
    let w = World::builder().without_daemon();
    let _d = Sessiond::ustd(&w);
    let out = rotating_session(&w);
    // Through ustd's own CLI: 300 ms, ten periods in the app's 3 s.
    let set = ok_with(ustd_cli, &w, &["enable-rotation", "s", "--timer", "300ms"]);
    assert!(set.contains("timer period: 300000 µs"), "{set}");
    ok(&w, &["start", "s"]);
    const N: i64 = 3000;
    let mut app = paced_app(&w, N);
    let pid = app.pid() as i64;
    app.wait_line("exiting", GENEROUS);
    app.wait();
    let off = ok(&w, &["disable-rotation", "-s", "s", "--timer"]);
    assert!(
        off.contains("Disabled periodic rotation on session s"),
        "{off}"
    );
    let while_running = archives(&out).len();
    // >= 2 of ~10 periods: a bound with a 5x margin.
    assert!(
        while_running >= 2,
        "{while_running} timer rotations, want >= 2"
    );
    // Disabled: no rotation in 3 periods more.
    std::thread::sleep(std::time::Duration::from_millis(900));
    assert_eq!(archives(&out).len(), while_running, "rotated after disable");
    ok(&w, &["stop", "s"]);
    archive_of(&ok(&w, &["destroy", "s"]), "s");
    assert_union_is_all(&archives(&out), pid, N);
}

/// As lttng-sessiond's, the timer schedule runs only while the session is
/// started: none fires while it is stopped, and it runs again at the next
/// start.
#[test]
fn timer_schedule_waits_while_the_session_is_stopped() {
    let w = World::builder().without_daemon();
    let _d = Sessiond::ustd(&w);
    let out = rotating_session(&w);
    ok(&w, &["start", "s"]);
    ok(&w, &["stop", "s"]);
    ok(&w, &["enable-rotation", "-s", "s", "--timer", "300ms"]);
    // Three periods stopped: a tick then would rotate the stopped session
    // (which `lttng rotate` may do once).
    std::thread::sleep(std::time::Duration::from_millis(900));
    assert_eq!(archives(&out).len(), 0, "rotated while stopped");
    ok(&w, &["start", "s"]);
    const N: i64 = 1000;
    let mut app = paced_app(&w, N);
    let pid = app.pid() as i64;
    app.wait_line("exiting", GENEROUS);
    app.wait();
    wait_until("a timer rotation after the restart", GENEROUS, || {
        (!archives(&out).is_empty()).then_some(())
    });
    ok(&w, &["stop", "s"]);
    archive_of(&ok(&w, &["destroy", "s"]), "s");
    assert_union_is_all(&archives(&out), pid, N);
}

/// `lttng` runs of the schedule commands against a daemon, its path
/// replaced by `W`.
fn schedule_transcript(w: &World) -> String {
    let out = w.dir.join("trace");
    let mut t = String::new();
    for args in [
        &["create", "s", "-o", out.to_str().unwrap()][..],
        &["enable-rotation", "-s", "s", "--timer", "3s"],
        &["enable-rotation", "-s", "s", "--timer", "5s"],
        &["enable-rotation", "-s", "s", "--size", "1M"],
        &["enable-rotation", "-s", "s", "--size", "0"],
        &["list", "s"],
        &["disable-rotation", "-s", "s", "--size"],
        &["disable-rotation", "-s", "s", "--size"],
        &["list", "s"],
        &["disable-rotation", "-s", "s", "--timer"],
        &["list", "s"],
        &["create", "snap", "--snapshot", "-o", out.to_str().unwrap()],
        &["enable-rotation", "-s", "snap", "--size", "1M"],
        &["enable-rotation", "-s", "s", "--size", "2M"],
        &["save", "-o", w.dir.join("saved").to_str().unwrap(), "s"],
    ] {
        let o = lttng(w, args);
        t += &format!(
            "$ lttng {}\n[exit {:?}]\n{}{}",
            args.join(" "),
            o.status.code(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let saved = std::fs::read_to_string(w.dir.join("saved/s.lttng")).unwrap();
    let schedules = saved
        .find("<attributes>")
        .map(|a| &saved[a..saved.find("</attributes>").unwrap()])
        .unwrap_or("no attributes");
    t += schedules;
    t.replace(w.dir.to_str().unwrap(), "W")
}

#[test]
fn schedule_commands_answer_as_lttng_sessiond() {
    let w = World::builder().without_daemon();
    let theirs = {
        let _d = Sessiond::lttng(&w);
        schedule_transcript(&w)
    };
    let w = World::builder().without_daemon();
    let ours = {
        let _d = Sessiond::ustd(&w);
        schedule_transcript(&w)
    };
    assert!(theirs.contains("size threshold: 1048576 bytes"), "{theirs}");
    assert!(theirs.contains("<bytes>2097152</bytes>"), "{theirs}");
    assert_eq!(ours, theirs);
}

/// The metadata file of the one buffer set under `dir` (CTF metadata
/// packets: a 37-byte binary header, then TSDL text).
fn metadata_of(dir: &Path) -> Vec<u8> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().unwrap() == "metadata" {
                files.push(p);
            }
        }
    }
    assert_eq!(files.len(), 1, "{files:?}");
    std::fs::read(&files[0]).unwrap()
}

/// A metadata file (CTF packets, 37-byte header) holds one whole text: the
/// first packet's text starts with the TSDL header, which is nowhere else.
fn assert_one_tsdl_header(file: &[u8]) {
    let at = |pat: &[u8]| -> Vec<usize> {
        file.windows(pat.len())
            .enumerate()
            .filter(|(_, w)| *w == pat)
            .map(|(i, _)| i)
            .collect()
    };
    assert_eq!(at(b"/* CTF 1.8 */"), vec![37], "one TSDL header, first");
    assert_eq!(at(b"\ntrace {").len(), 1, "one trace block");
}

#[test]
fn regenerate_metadata_keeps_the_trace_whole() {
    let w = World::builder().without_daemon();
    let _d = Sessiond::ustd(&w);
    let out = rotating_session(&w);
    let refused = lttng(&w, &["regenerate", "metadata", "-s", "s"]);
    assert_eq!(
        refused.status.code(),
        Some(118),
        "not started: lttng's code"
    );
    ok(&w, &["start", "s"]);
    const N: i64 = 2000;
    let mut app = paced_app(&w, N);
    let pid = app.pid() as i64;
    std::thread::sleep(std::time::Duration::from_millis(500));
    let done = ok(&w, &["regenerate", "metadata", "-s", "s"]);
    assert!(
        done.contains("Metadata successfully regenerated for session s"),
        "{done}"
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    ok_with(ustd_cli, &w, &["regenerate", "metadata", "-s", "s"]);
    app.wait_line("exiting", GENEROUS);
    app.wait();
    ok(&w, &["stop", "s"]);
    let file = metadata_of(&out);
    assert_one_tsdl_header(&file);
    // Written again, whole, in one push: one packet (~2.9 KB of text). As
    // registered it took two: the preamble with the stream class at the
    // channel's registration, then the event.
    let packet_size = u32::from_le_bytes(file[28..32].try_into().unwrap()) as usize / 8;
    assert_eq!(
        file.len(),
        packet_size,
        "more than one metadata packet: the metadata was not regenerated"
    );
    let want: Vec<i64> = (0..N).collect();
    assert_eq!(values_by_pid(&out).remove(&pid), Some(want));
    ok(&w, &["destroy", "s"]);
}

#[test]
fn regenerate_metadata_is_refused_per_pid() {
    let w = World::builder().without_daemon();
    let _d = Sessiond::ustd(&w);
    ok(
        &w,
        &["create", "p", "-o", w.dir.join("p").to_str().unwrap()],
    );
    ok(
        &w,
        &["enable-channel", "-u", "--buffers-pid", "c", "-s", "p"],
    );
    ok(&w, &["start", "p"]);
    let o = lttng(&w, &["regenerate", "metadata", "-s", "p"]);
    assert_eq!(
        o.status.code(),
        Some(120),
        "lttng's LTTNG_ERR_PER_PID_SESSION"
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Per-PID recording sessions are not supported"),
        "{o:?}"
    );
    ok(&w, &["destroy", "p"]);
}

/// Snapshots to a stock lttng-relayd: each record is a trace chunk of its
/// own under the session's directory there, `<name>-<date>-<time>-<N>/ust/…`
/// (lttng-sessiond 2.13.9's tree), holding the latest events, readable alone.
#[test]
fn snapshot_records_to_a_relayd() {
    let w = World::builder().without_daemon();
    let relayd = common::relayd::Relayd::start(&w);
    let _d = Sessiond::ustd(&w);
    let url = relayd.url();
    ok(&w, &["create", "s", "--snapshot", "--set-url", &url]);
    let listed = ok(&w, &["snapshot", "list-output", "-s", "s"]);
    assert!(
        listed.contains(&format!("tcp4://127.0.0.1:{}/", relayd.ctrl.port())),
        "{listed}"
    );
    simple_channel(&w, "4");
    ok(&w, &["start", "s"]);
    let first = emitting_app(&w);
    ok(&w, &["snapshot", "record", "-s", "s"]);
    let second = emitting_app(&w);
    ok(&w, &["snapshot", "record", "-s", "s", "-n", "named"]);
    // ustd's CLI, the relayd given on the command line.
    ok_with(ustd_cli, &w, &["snapshot", "record", "-s", "s", &url]);

    let recs = records(&relayd.session_dir("s"));
    assert_eq!(recs.len(), 3, "{recs:?}");
    assert_record_name(&recs[0], "snapshot-1", 0);
    assert_record_name(&recs[1], "named", 1);
    assert_record_name(&recs[2], "snapshot-0", 2);
    let (p1, p2) = (first.pid() as i64, second.pid() as i64);
    let r0 = values_by_pid(&recs[0]);
    assert_eq!(r0.keys().copied().collect::<Vec<_>>(), vec![p1], "record 0");
    assert_latest_run("record 0", &r0[&p1]);
    for (i, r) in recs[1..].iter().enumerate() {
        let v = values_by_pid(r);
        // Shared per-uid buffers: the second app's events overwrote the first's.
        assert_eq!(
            v.keys().copied().collect::<Vec<_>>(),
            vec![p2],
            "record {}",
            i + 1
        );
        assert_latest_run(&format!("record {}", i + 1), &v[&p2]);
    }
    end_apps_and_destroy(&w, [first, second]);
}

/// A world with a stock lttng-relayd and ustd as its root daemon, and
/// session `s` created by the stock CLI to stream to that relayd.
fn relayd_session() -> (World, common::relayd::Relayd, Sessiond) {
    let w = World::builder().without_daemon();
    let relayd = common::relayd::Relayd::start(&w);
    let d = Sessiond::ustd(&w);
    ok(&w, &["create", "s", "--set-url", &relayd.url()]);
    (w, relayd, d)
}

/// Rotation of a session streamed to a stock lttng-relayd (2.11+ chunk
/// protocol): the relayd holds `archives/<begin>-<end>-<N>/`, each readable
/// alone, and together they hold every event exactly once, in order.
#[test]
fn rotations_of_a_relayd_session_archive_at_the_relayd() {
    let (w, relayd, _d) = relayd_session();
    simple_channel(&w, "8");
    ok(&w, &["start", "s"]);
    // One event per millisecond for ~3 s: both rotations land mid-run.
    const N: i64 = 3000;
    let mut app = paced_app(&w, N);
    let pid = app.pid() as i64;
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let r1 = ok(&w, &["rotate", "s"]);
    assert!(
        r1.contains("is now readable on relay tcp://127.0.0.1/"),
        "{r1}"
    );
    std::thread::sleep(std::time::Duration::from_millis(1000));
    // The second through ustd's own CLI: both front ends rotate.
    ok_with(ustd_cli, &w, &["rotate", "s"]);
    app.wait_line("exiting", GENEROUS);
    app.wait();
    ok(&w, &["stop", "s"]);
    let destroyed = ok(&w, &["destroy", "s"]);
    // Destroy archives the last chunk too, and says where, as lttng does.
    assert!(
        destroyed.contains("archives/") && destroyed.contains("-2 [control port"),
        "{destroyed}"
    );
    let dirs = archives(&relayd.session_dir("s"));
    assert_eq!(dirs.len(), 3, "{dirs:?}");
    // Each read on its own: metadata complete in every chunk.
    assert_union_is_all(&dirs, pid, N);
}

/// `clear` of a session streamed to a stock lttng-relayd: what the relayd
/// already holds is deleted (lttng's chunk rotation with a delete close
/// command), what follows is there.
#[test]
fn clear_of_a_relayd_session_deletes_at_the_relayd() {
    let (w, relayd, _d) = relayd_session();
    clear_mid_run(&w, || relayd.session_dir("s"));
    ok(&w, &["destroy", "s"]);
    // lttng's tree: the chunk after the clear is the session directory's own.
    let dir = relayd.session_dir("s");
    assert!(dir.join("ust").is_dir(), "{}", dir.display());
}

/// `regenerate metadata` of a session streamed to a stock lttng-relayd,
/// mid-run, after the relayd got the first text: the relayd's metadata file
/// holds the new text only (RESET_METADATA emptied it), and its trace every
/// event once, in order.
#[test]
fn regenerate_metadata_of_a_relayd_session() {
    let (w, relayd, _d) = relayd_session();
    simple_channel(&w, "8");
    ok(&w, &["start", "s"]);
    const N: i64 = 2000;
    let mut app = paced_app(&w, N);
    let pid = app.pid() as i64;
    let dir = relayd.session_dir("s");
    let metadata = dir
        .join("ust/uid")
        .join(euid().to_string())
        .join("64-bit/metadata");
    wait_until("metadata at the relayd", GENEROUS, || {
        std::fs::metadata(&metadata)
            .is_ok_and(|m| m.len() > 0)
            .then_some(())
    });
    let done = ok(&w, &["regenerate", "metadata", "-s", "s"]);
    assert!(
        done.contains("Metadata successfully regenerated for session s"),
        "{done}"
    );
    app.wait_line("exiting", GENEROUS);
    app.wait();
    ok(&w, &["stop", "s"]);
    assert_one_tsdl_header(&std::fs::read(&metadata).unwrap());
    let want: Vec<i64> = (0..N).collect();
    assert_eq!(values_by_pid(&dir).remove(&pid), Some(want));
    ok(&w, &["destroy", "s"]);
}

/// Rotation of a per-PID session streamed to a stock lttng-relayd: every
/// archive at the relayd is readable alone, and together they hold each
/// event of the app exactly once, in order.
#[test]
fn rotations_of_a_per_pid_relayd_session_archive_at_the_relayd() {
    let (w, relayd, _d) = relayd_session();
    simple_channel_with(lttng, &w, "8", &["--buffers-pid"]);
    ok(&w, &["start", "s"]);
    // One event per millisecond for ~3 s: both rotations land mid-run.
    const N: i64 = 3000;
    let mut app = paced_app(&w, N);
    let pid = app.pid() as i64;
    std::thread::sleep(std::time::Duration::from_millis(1000));
    ok(&w, &["rotate", "s"]);
    std::thread::sleep(std::time::Duration::from_millis(1000));
    ok(&w, &["rotate", "s"]);
    app.wait_line("exiting", GENEROUS);
    app.wait();
    ok(&w, &["stop", "s"]);
    ok(&w, &["destroy", "s"]);
    let dirs = archives(&relayd.session_dir("s"));
    assert_eq!(dirs.len(), 3, "{dirs:?}");
    assert_union_is_all(&dirs, pid, N);
}
