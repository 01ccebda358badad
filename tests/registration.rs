//! Issue 2: app registration. Real LTTng-UST fixture apps and raw protocol
//! clients against `ustd daemon` in a private mount namespace (see
//! `common/mod.rs`). Needs root, gcc and liblttng-ust-dev.
//!
//! Issue 13: every hostile test checks the *reason* a socket was closed
//! (the daemon's log line naming the peer and the reason, and when the close
//! happened relative to the app deadline), and that an honest app registers
//! while the hostile peers are still connected. The one-line daemon changes
//! each test catches are listed in the test's doc comment.

mod common;

use common::raw::{self, FakeApp};
use common::{wait_until, App, World, GENEROUS};
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::{Duration, Instant};
use ustd::wire::cmd::op;
use ustd::wire::reg::{SocketType, REG_MSG_LEN};

/// lttng-ust's constructor waits up to 3 s for REGISTER_DONE, then lets
/// main() run unregistered (its first events are then lost). main() reached
/// before that proves the handshake released it. Margin: main() was reached
/// after 15-19 ms on the shared 2-core machine at load average 15 (five
/// other builds running), over 100x under the bound.
const CONSTRUCTOR_WAIT: Duration = Duration::from_secs(3);
/// The app deadline (`LTTNG_APP_SOCKET_TIMEOUT`) of hostile worlds: every
/// handshake step and every unpaired half gets this long. Long on purpose,
/// so that the bounds below, fractions of it, leave a wide margin.
const DEADLINE: Duration = Duration::from_secs(15);
/// "Before the deadline": a socket refused for its content is closed at
/// once (within the first read here, at load average 15; a 1.6 s close
/// would still leave 3x margin); a daemon that ignored the content would
/// park it and close it only at DEADLINE.
const EARLY: Duration = Duration::from_secs(5);
/// An honest app registers within this while hostile peers hold sockets the
/// daemon may only close at DEADLINE. Measured 26-57 ms from spawn to
/// listed on the shared 2-core machine at load average 15 (about 90x
/// margin); a daemon serving one handshake at a time would take DEADLINE.
const HONEST_WITHIN: Duration = Duration::from_secs(5);

fn test_pid() -> i32 {
    std::process::id() as i32
}

/// A daemon with the hostile DEADLINE, and its fd count with no client.
fn hostile_world() -> (World, usize) {
    let w = World::builder()
        .daemon_env("LTTNG_APP_SOCKET_TIMEOUT", &DEADLINE.as_secs().to_string())
        .start();
    let baseline = w.settled_fd_count();
    (w, baseline)
}

/// Starts an honest app while `hostile` sockets are connected and checks it
/// registers within HONEST_WITHIN, the hostile sockets still open (so they
/// did not have to go first).
fn honest_registers_meanwhile(w: &World, hostile: &[&UnixStream]) -> App {
    let t0 = Instant::now();
    let honest = w.spawn_app(&["-w"]);
    w.wait_registered(honest.pid(), HONEST_WITHIN);
    eprintln!("honest app registered after {:?}", t0.elapsed());
    for (i, s) in hostile.iter().enumerate() {
        assert!(
            raw::is_open(s),
            "hostile socket #{i} was closed before the honest app registered"
        );
    }
    honest
}

/// Checks `s` is closed before the deadline could have closed it.
fn closed_early(s: &UnixStream, what: &str) {
    raw::wait_closed(s, EARLY).unwrap_or_else(|e| {
        panic!("{what}: not closed on its content, {e} (deadline {DEADLINE:?})")
    });
}

/// Checks `s`, connected at `since`, is closed by the deadline: not before
/// DEADLINE, and within EARLY after it.
fn closed_at_deadline(s: &UnixStream, since: Instant, what: &str) {
    raw::wait_closed(s, DEADLINE + EARLY).unwrap_or_else(|e| panic!("{what}: {e}"));
    let at = since.elapsed();
    assert!(
        at >= DEADLINE,
        "{what}: closed after {at:?}, before the {DEADLINE:?} deadline"
    );
}

/// Checks what every hostile-input test must hold afterwards: the daemon is
/// up and answering, nothing is listed under the test process's pid, and
/// once the honest app is gone the daemon holds no more fds than before the
/// test.
fn assert_survived(w: &mut World, honest: App, fd_baseline: usize) {
    w.assert_daemon_alive();
    w.wait_registered(honest.pid(), Duration::ZERO);
    let apps = w.list();
    assert!(
        apps.iter().all(|e| e.pid != test_pid()),
        "a rejected raw client is listed: {apps:?}"
    );
    let pid = honest.pid();
    drop(honest);
    w.wait_gone(&[pid], GENEROUS);
    w.wait_fd_count(fd_baseline, GENEROUS);
}

/// The log line of a registration refused for its content.
fn bad_registration_logged(w: &World, reason: &str) -> String {
    let peer = format!("peer_pid={}", test_pid());
    w.wait_log_line(
        &["closing app socket: bad registration", &peer, reason],
        GENEROUS,
    )
}

#[test]
fn fixture_reaches_main_well_under_constructor_wait() {
    let w = World::start();
    for _ in 0..3 {
        let app = w.spawn_app(&["-w"]);
        let ms = app.main_reached_ms();
        eprintln!("main() reached after {ms} ms");
        // A daemon that never completed the handshake would also free main()
        // (after 3 s): check that the app did register.
        let e = w.wait_registered(app.pid(), GENEROUS);
        assert_eq!(e.name, "ustd-fixture");
        assert!(
            u128::from(ms) < CONSTRUCTOR_WAIT.as_millis(),
            "main() reached {ms} ms after process start: lttng-ust gave up waiting \
             for REGISTER_DONE ({CONSTRUCTOR_WAIT:?})"
        );
    }
}

/// Registration of many apps at once, and their removal once they exit.
/// How fast removal follows an exit is a benchmark figure (printed here),
/// not a pass/fail bound: the protocol gives none.
#[test]
fn fifty_apps_register_and_leave() {
    const N: usize = 50;
    let w = World::start();
    let apps: Vec<App> = (0..N).map(|_| w.spawn_app(&["-w"])).collect();
    let pids: Vec<i32> = apps.iter().map(App::pid).collect();
    let entries = w.wait_all_registered(&pids, Duration::from_secs(90));

    let mut ids: Vec<u64> = entries.iter().map(|e| e.app_id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), N, "app ids are not unique: {entries:?}");
    for e in &entries {
        // Same pid namespace and root credentials: claims equal the kernel's.
        assert_eq!(
            (e.vpid, e.uid, e.vuid, e.gid, e.vgid),
            (e.pid, 0, 0, 0, 0),
            "{e:?}"
        );
        assert_eq!(e.ppid, test_pid(), "{e:?}");
        assert_eq!(e.name, "ustd-fixture");
        assert_eq!((e.bits_per_long, e.abi_major), (64, 9), "{e:?}");
        assert_eq!(e.tracer_version, "2.13.5");
        assert_eq!(e.state, "live");
    }
    let listed = w.list();
    assert_eq!(listed.len(), N, "unexpected extra entries: {listed:?}");

    let t0 = Instant::now();
    for mut app in apps {
        app.signal(libc::SIGTERM);
        let st = app.wait_exit(GENEROUS);
        assert!(st.success(), "app {} exited with {st}", app.pid());
    }
    w.wait_gone(&pids, GENEROUS);
    eprintln!(
        "all {N} exited and unlisted {:?} after SIGTERM",
        t0.elapsed()
    );
    assert!(w.list().is_empty(), "entries left: {:?}", w.list());
}

/// Re-runs this test binary as a raw app process stopped at a handshake step
/// (see [`raw_app_child`]); returns it once it says it reached the step.
fn spawn_raw_child(w: &World, step: &str) -> App {
    let mut c = Command::new(std::env::current_exe().expect("test binary path"));
    c.args([
        "--exact",
        "raw_app_child",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("USTD_RAW_CHILD_STEP", step)
    .env("USTD_RAW_CHILD_SOCKET", w.app_socket());
    let child = App::spawn(c);
    child.wait_line(&format!("at-step {step}"), GENEROUS);
    child
}

/// Not a test by itself: the body of the raw app processes that
/// [`spawn_raw_child`] starts (a no-op in a normal run).
#[test]
fn raw_app_child() {
    let (Some(step), Some(sock)) = (
        std::env::var_os("USTD_RAW_CHILD_STEP"),
        std::env::var_os("USTD_RAW_CHILD_SOCKET"),
    ) else {
        return;
    };
    raw::run_child(std::path::Path::new(&sock), &step.to_string_lossy());
}

/// kill -9 at each known step of the handshake: the daemon logs the failure
/// at that step for that pid, lists nothing for it, and gets back to its fd
/// baseline.
///
/// Breaks caught: `registry.publish` skipped in `unregister` paths (entry
/// left listed); `drop(replaced)` / `withdraw` not closing the parked half
/// (fd count stays above baseline).
#[test]
fn kill_9_at_each_handshake_step() {
    let (mut w, baseline) = hostile_world();
    // What the daemon logs when the app dies right after each step.
    let expect: [(&str, &[&str]); 5] = [
        // Registration read hits EOF.
        (
            "connected",
            &[
                "closing app socket: no registration",
                "peer closed the socket",
            ],
        ),
        // A parked cmd half is reclaimed at the deadline.
        (
            "cmd-registered",
            &["closing app socket: its counterpart never came", "kind=Cmd"],
        ),
        // The version request gets no reply.
        ("registered", &["handshake failed at TRACER_VERSION"]),
        // With no session to apply, REGISTER_DONE went out with
        // TRACER_VERSION: its reply never comes.
        ("tracer-version", &["handshake failed at REGISTER_DONE"]),
        // A registered app's sockets hit EOF.
        ("register-done", &["app left"]),
    ];
    for (step, needles) in expect {
        let mut child = spawn_raw_child(&w, step);
        let pid = child.pid();
        let pid_field = if step == "connected" {
            format!("peer_pid={pid}")
        } else {
            format!("pid={pid}")
        };
        if step == "register-done" {
            w.wait_registered(pid, GENEROUS);
        }
        child.kill9();
        let mut all = needles.to_vec();
        all.push(&pid_field);
        // The parked half waits for the deadline.
        let line = w.wait_log_line(&all, DEADLINE + GENEROUS);
        eprintln!("{step}: {line}");
        w.wait_gone(&[pid], GENEROUS);
        w.assert_daemon_alive();
        w.wait_fd_count(baseline, GENEROUS);
    }
}

/// A registered app killed while `start` waits on it (it is SIGSTOPped, so
/// the fan-out is stuck on it until the deadline): the kill ends the wait
/// early, `start` reports the app, its entry goes, and after destroy the
/// daemon is back at its fd baseline.
///
/// Break caught: the command exchange ignoring EOF (`Ok(0) => continue` in
/// `stream::read_exact`) makes `start` wait out the deadline.
#[test]
fn kill_9_during_start_fan_out() {
    let (mut w, baseline) = hostile_world();
    let ustd = |args: &[&str]| {
        let mut c = w.command_in(&common::ustd_bin());
        c.arg("--rundir").arg(&w.rundir).args(args);
        c.env("LTTNG_HOME", &w.dir);
        c
    };
    let ok = |args: &[&str]| {
        let out = common::run_with_timeout(ustd(args), GENEROUS + DEADLINE).expect("ustd runs");
        assert!(
            out.status.success(),
            "ustd {args:?}: {out:?}\n{}",
            w.daemon_log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let out_dir = w.dir.join("s");
    ok(&["create", "s", "-o", out_dir.to_str().unwrap()]);
    ok(&["enable-event", "-u", "ustd_fixture:*"]);
    let mut app = w.spawn_app(&["-w"]);
    w.wait_registered(app.pid(), GENEROUS);
    app.signal(libc::SIGSTOP);

    let (tx, rx) = std::sync::mpsc::channel();
    let start_cmd = ustd(&["start", "--json"]);
    let t0 = Instant::now();
    std::thread::spawn(move || {
        let _ = tx.send(common::run_with_timeout(start_cmd, DEADLINE + GENEROUS));
    });
    // Still waiting on the stopped app after a while: the kill lands inside
    // the fan-out.
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        rx.try_recv().is_err(),
        "start returned while the app was stopped"
    );
    app.kill9();
    let out = rx.recv().expect("start thread").expect("start runs");
    let took = t0.elapsed();
    let report = String::from_utf8_lossy(&out.stdout);
    // 2 s of waiting on purpose, then the command ends on the EOF: about
    // 2.5 s loaded, 6x under the deadline that a daemon ignoring the EOF
    // would wait out.
    assert!(
        took < DEADLINE,
        "start took {took:?}: the kill did not end the wait on the dead app: {report}"
    );
    assert!(
        report.contains(&app.pid().to_string()),
        "start report: {report}"
    );
    w.wait_gone(&[app.pid()], GENEROUS);
    ok(&["stop"]);
    ok(&["destroy"]);
    w.wait_fd_count(baseline, GENEROUS);
    w.assert_daemon_alive();
}

#[test]
fn kill_9_leaves_no_entry_and_no_fd() {
    let mut w = World::start();
    // Warm up (lazy allocations, first-use fds), then take the baseline.
    let mut warm = w.spawn_app(&["-w"]);
    w.wait_registered(warm.pid(), GENEROUS);
    warm.kill9();
    w.wait_gone(&[warm.pid()], GENEROUS);
    let baseline = w.settled_fd_count();

    // Real apps at random points of their start-up (the handshake steps
    // themselves are hit one by one in kill_9_at_each_handshake_step).
    let mut pids = Vec::new();
    for i in 0..12u64 {
        let mut app = w.spawn_app(&["-w"]);
        std::thread::sleep(Duration::from_millis(i * 5));
        app.kill9();
        pids.push(app.pid());
    }
    // After registration.
    let mut apps: Vec<App> = (0..8).map(|_| w.spawn_app(&["-w"])).collect();
    let live: Vec<i32> = apps.iter().map(App::pid).collect();
    w.wait_all_registered(&live, GENEROUS);
    for a in &mut apps {
        a.kill9();
    }
    pids.extend(live);

    w.wait_gone(&pids, GENEROUS);
    assert!(w.list().is_empty(), "entries left: {:?}", w.list());
    w.assert_daemon_alive();
    w.wait_fd_count(baseline, GENEROUS);
}

/// Break caught: `m => return Err(WireError::BadMagic(m))` turned into
/// `_ => {}` in `RegMsg::decode` (the socket is then parked and closed only
/// at the deadline, and the reason is not logged).
#[test]
fn hostile_wrong_magic_is_closed() {
    let (mut w, fds) = hostile_world();
    let mut bytes = raw::honest_reg(SocketType::Cmd).encode();
    bytes[0..4].copy_from_slice(&0xDEAD_BEEFu32.to_le_bytes());
    let mut s = raw::connect(&w.app_socket());
    s.write_all(&bytes).expect("send");
    let honest = w.spawn_app(&["-w"]);
    closed_early(&s, "wrong magic");
    bad_registration_logged(&w, "bad registration magic 0xdeadbeef");
    w.wait_registered(honest.pid(), HONEST_WITHIN);
    assert_survived(&mut w, honest, fds);
}

/// Breaks caught, one per case: each check of `RegMsg::decode` disabled
/// (e.g. `if bits_per_long != 32 && bits_per_long != 64` made `if false`).
#[test]
fn hostile_bad_headers_are_closed() {
    let (mut w, fds) = hostile_world();
    let good = raw::honest_reg(SocketType::Cmd).encode();
    let patch = |off: usize, v: u32| {
        let mut b = good;
        b[off..off + 4].copy_from_slice(&v.to_le_bytes());
        b
    };
    let cases = [
        (
            "byte-swapped registration magic",
            patch(0, ustd::wire::reg::REG_MAGIC.swap_bytes()),
        ),
        ("unsupported ABI major version 7", patch(4, 7)),
        ("unsupported ABI major version 10", patch(4, 10)),
        ("unsupported bits_per_long 16", patch(28, 16)),
        ("unknown socket type 5", patch(52, 5)),
    ];
    // A silent client holds a handshake slot all along.
    let silent = raw::connect(&w.app_socket());
    let socks: Vec<(&str, UnixStream)> = cases
        .iter()
        .map(|(why, bytes)| {
            let mut s = raw::connect(&w.app_socket());
            s.write_all(bytes).expect("send");
            (*why, s)
        })
        .collect();
    let honest = honest_registers_meanwhile(&w, &[&silent]);
    for (why, s) in &socks {
        closed_early(s, why);
        bad_registration_logged(&w, why);
    }
    assert_survived(&mut w, honest, fds);
}

/// A mute app is dropped at the deadline, a lying one (wrong handle in its
/// reply) at once; an honest app registers while the mute one is pending.
///
/// Breaks caught: `exchange(&cmd.stream, d.deadline, ..)` given
/// `Deadline(None)` for TRACER_VERSION (the mute app is never dropped);
/// the handle check of `Reply::decode_for` disabled (the liar registers).
#[test]
fn hostile_mute_or_lying_app_after_pairing_is_dropped() {
    let (mut w, fds) = hostile_world();
    let t0 = Instant::now();
    let mute = FakeApp::register_answering(
        &w.app_socket(),
        &raw::honest_reg(SocketType::Cmd),
        &raw::honest_reg(SocketType::Notify),
        raw::Answer::Mute,
    );
    wait_until(
        "the daemon to send the mute app a command",
        GENEROUS,
        || (!mute.commands.lock().unwrap().is_empty()).then_some(()),
    );
    let honest = honest_registers_meanwhile(&w, &[&mute.notify]);
    assert!(!mute.cmd_closed(), "mute app's cmd socket closed early");
    closed_at_deadline(&mute.notify, t0, "mute app's notify socket");
    wait_until("the mute app's cmd socket to close", GENEROUS, || {
        mute.cmd_closed().then_some(())
    });
    let pid = format!("pid={}", test_pid());
    let timeout = format!("no answer within {DEADLINE:?}");
    w.wait_log_line(
        &["handshake failed at TRACER_VERSION", &pid, &timeout],
        GENEROUS,
    );
    drop(mute);

    let liar = FakeApp::register_answering(
        &w.app_socket(),
        &raw::honest_reg(SocketType::Cmd),
        &raw::honest_reg(SocketType::Notify),
        raw::Answer::WrongHandle,
    );
    closed_early(&liar.notify, "lying app's notify socket");
    w.wait_log_line(
        &[
            "handshake failed at TRACER_VERSION",
            &pid,
            "reply echoes handle",
        ],
        GENEROUS,
    );
    assert!(
        liar.saw(op::TRACER_VERSION),
        "daemon sent no TRACER_VERSION"
    );
    assert_survived(&mut w, honest, fds);
}

/// Breaks caught: `Ok(0) => return Err(AppIoError::Eof)` made
/// `Ok(0) => continue` in `stream::read_exact` (the short message is closed
/// only at the deadline); the registration read not under `d.deadline.run`
/// (the stalled one is never closed).
#[test]
fn hostile_truncated_registration_is_closed() {
    let (mut w, fds) = hostile_world();
    let bytes = raw::honest_reg(SocketType::Cmd).encode();
    // Half a message, then silence: only the deadline can end it.
    let t0 = Instant::now();
    let mut stalled = raw::connect(&w.app_socket());
    stalled.write_all(&bytes[..REG_MSG_LEN / 2]).expect("send");
    // Half a message, then EOF.
    let mut short = raw::connect(&w.app_socket());
    short.write_all(&bytes[..REG_MSG_LEN - 1]).expect("send");
    short.shutdown(std::net::Shutdown::Write).expect("shutdown");
    closed_early(&short, "truncated message at EOF");
    let peer = format!("peer_pid={}", test_pid());
    w.wait_log_line(
        &[
            "closing app socket: no registration",
            &peer,
            "peer closed the socket",
        ],
        GENEROUS,
    );
    let honest = honest_registers_meanwhile(&w, &[&stalled]);
    closed_at_deadline(&stalled, t0, "stalled message");
    let timeout = format!("no answer within {DEADLINE:?}");
    w.wait_log_line(
        &["closing app socket: no registration", &peer, &timeout],
        GENEROUS,
    );
    assert_survived(&mut w, honest, fds);
}

/// Unpaired halves wait for their counterpart until the deadline, and no
/// longer.
///
/// Break caught: the parked half's expiry made `d.shutdown.cancelled()`
/// whatever the deadline (`Some(t) => tokio::time::sleep(t).await` ->
/// `Some(_) => d.shutdown.cancelled().await`): never closed.
#[test]
fn hostile_unpaired_halves_are_closed_at_the_deadline() {
    let (mut w, fds) = hostile_world();
    let t0 = Instant::now();
    // Two different peers: pairing is by pid, so one process cannot hold a
    // lone half of each kind.
    let mut notify_only = spawn_raw_notify_only(&w);
    let mut cmd = raw::connect(&w.app_socket());
    cmd.write_all(&raw::honest_reg(SocketType::Cmd).encode())
        .expect("send");
    let honest = honest_registers_meanwhile(&w, &[&cmd]);
    closed_at_deadline(&cmd, t0, "cmd socket without notify");
    let pid = format!("pid={}", test_pid());
    w.wait_log_line(&["its counterpart never came", &pid, "kind=Cmd"], GENEROUS);
    let child = format!("pid={}", notify_only.pid());
    w.wait_log_line(
        &["its counterpart never came", &child, "kind=Notify"],
        GENEROUS,
    );
    notify_only.kill9();
    assert_survived(&mut w, honest, fds);
}

/// A raw app process that only registers a notify socket (its pid differs
/// from the test's, so its half does not pair with the test's cmd half).
fn spawn_raw_notify_only(w: &World) -> App {
    let mut c = Command::new(std::env::current_exe().expect("test binary path"));
    c.args([
        "--exact",
        "raw_notify_only_child",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("USTD_RAW_NOTIFY_ONLY_SOCKET", w.app_socket());
    let child = App::spawn(c);
    child.wait_line("at-step notify-registered", GENEROUS);
    child
}

/// Not a test by itself: the body of [`spawn_raw_notify_only`]'s process.
#[test]
fn raw_notify_only_child() {
    let Some(sock) = std::env::var_os("USTD_RAW_NOTIFY_ONLY_SOCKET") else {
        return;
    };
    let mut s = raw::connect(std::path::Path::new(&sock));
    s.write_all(&raw::honest_reg(SocketType::Notify).encode())
        .expect("send");
    println!("\nat-step notify-registered");
    std::io::stdout().flush().expect("flush");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// Break caught: `tokio::spawn(read_registration(..))` made
/// `read_registration(..).await` in `accept_loop` (one handshake at a
/// time: the honest app waits for the silent clients' deadline).
#[test]
fn hostile_silent_clients_are_closed() {
    let (mut w, fds) = hostile_world();
    let t0 = Instant::now();
    let silent: Vec<UnixStream> = (0..20).map(|_| raw::connect(&w.app_socket())).collect();
    let refs: Vec<&UnixStream> = silent.iter().collect();
    let honest = honest_registers_meanwhile(&w, &refs);
    for s in &silent {
        closed_at_deadline(s, t0, "silent client");
    }
    let peer = format!("peer_pid={}", test_pid());
    let timeout = format!("no answer within {DEADLINE:?}");
    w.wait_log_line(
        &["closing app socket: no registration", &peer, &timeout],
        GENEROUS,
    );
    // Idle registered apps are not subject to the handshake deadline.
    w.wait_registered(honest.pid(), Duration::ZERO);
    assert_survived(&mut w, honest, fds);
}

/// Break caught: `c => Err(WireError::BadNotifyCmd(c))` in
/// `notify::body_len` made `_ => Ok(EVENT_BODY_LEN)` (the garbage is read as
/// an event request: refused with an error reply, app kept).
#[test]
fn hostile_garbage_on_notify_after_pairing() {
    let (mut w, fds) = hostile_world();
    let fake = FakeApp::register(
        &w.app_socket(),
        &raw::honest_reg(SocketType::Cmd),
        &raw::honest_reg(SocketType::Notify),
    );
    let e = w.wait_registered(test_pid(), GENEROUS);
    assert_eq!(e.name, raw::FAKE_NAME);
    assert!(
        fake.saw(op::REGISTER_DONE),
        "registered without REGISTER_DONE"
    );
    let honest = honest_registers_meanwhile(&w, &[&fake.notify]);
    (&fake.notify).write_all(&[0xFF; 64]).expect("send garbage");
    closed_early(&fake.notify, "notify socket sending garbage");
    let pid = format!("pid={}", test_pid());
    w.wait_log_line(
        &[
            "app disconnected (notify socket",
            &pid,
            "unknown notify command 4294967295",
        ],
        GENEROUS,
    );
    // An app whose notify channel is gone cannot be traced: it must go.
    w.wait_gone(&[test_pid()], GENEROUS);
    assert_survived(&mut w, honest, fds);
}

#[test]
fn hostile_claimed_identity_is_not_trusted() {
    let (mut w, fds) = hostile_world();
    let victim = w.spawn_app(&["-w"]);
    let before = w.wait_registered(victim.pid(), GENEROUS);

    // Claim the victim's pid and another uid/gid.
    let fake = FakeApp::register(
        &w.app_socket(),
        &raw::reg_msg(SocketType::Cmd, victim.pid(), 4242, 4242),
        &raw::reg_msg(SocketType::Notify, victim.pid(), 4242, 4242),
    );
    let e = w.wait_registered(test_pid(), GENEROUS);
    assert_eq!(
        (e.uid, e.gid),
        (common::euid(), common::egid()),
        "kernel credentials: {e:?}"
    );
    assert_eq!(
        (e.vpid, e.vuid, e.vgid),
        (victim.pid(), 4242, 4242),
        "claims: {e:?}"
    );
    assert_ne!(e.app_id, before.app_id);

    let apps = w.list();
    let victims: Vec<_> = apps.iter().filter(|a| a.pid == victim.pid()).collect();
    assert_eq!(
        victims,
        vec![&before],
        "the victim's entry changed: {apps:?}"
    );

    // The impostor leaving must not take the victim with it.
    drop(fake);
    w.wait_gone(&[test_pid()], GENEROUS);
    let apps = w.list();
    assert!(apps.contains(&before), "victim lost: {apps:?}");
    let victim_pid = victim.pid();
    drop(victim);
    w.wait_gone(&[victim_pid], GENEROUS);
    let honest = w.spawn_app(&["-w"]);
    w.wait_registered(honest.pid(), GENEROUS);
    assert_survived(&mut w, honest, fds);
}
#[test]
fn running_apps_reregister_after_daemon_restart() {
    let mut w = World::builder().without_daemon();
    // One app predates every daemon: lttng-ust has then already counted a
    // failed connection, so its next reconnect takes the 5 s retry sleep.
    let mut apps = vec![w.spawn_app(&["-w"])];
    w.start_daemon();
    apps.extend((0..2).map(|_| w.spawn_app(&["-w"])));
    let pids: Vec<i32> = apps.iter().map(App::pid).collect();
    w.wait_all_registered(&pids, GENEROUS);

    for (sig, name) in [(libc::SIGTERM, "SIGTERM"), (libc::SIGINT, "SIGINT")] {
        assert_eq!(
            w.wait_shm_value(),
            Some(1),
            "wait shm while the daemon runs"
        );
        let st = w.stop_daemon_with(sig);
        assert!(
            st.success(),
            "daemon exit on {name}: {st}\n{}",
            w.daemon_log()
        );
        assert!(
            !w.app_socket().exists(),
            "app socket left behind after {name}"
        );
        assert!(
            !w.ctl_socket().exists(),
            "control socket left behind after {name}"
        );
        assert_eq!(w.wait_shm_value(), Some(0), "wait shm after {name}");

        w.start_daemon();
        // lttng-ust may sleep 5 s between reconnect attempts.
        w.wait_all_registered(&pids, Duration::from_secs(20));
        assert_eq!(w.list().len(), pids.len(), "{:?}", w.list());
    }
}

#[test]
fn silent_or_garbage_control_clients_do_not_block_others() {
    let mut w = World::start();
    let silent: Vec<UnixStream> = (0..5).map(|_| raw::connect(&w.ctl_socket())).collect();
    let mut garbage = raw::connect(&w.ctl_socket());
    garbage
        .write_all(b"\x00\xffnot a request{{{\n")
        .expect("send garbage");
    let mut partial = raw::connect(&w.ctl_socket());
    partial
        .write_all(b"{\"cmd\":")
        .expect("send partial request");
    let app = w.spawn_app(&["-w"]);
    // wait_registered runs `ustd list` (10 s timeout each) while the other
    // clients hold their connections.
    w.wait_registered(app.pid(), GENEROUS);
    w.try_list()
        .expect("`ustd list` answers despite stuck control clients");
    w.assert_daemon_alive();
    drop((silent, garbage, partial));
}

#[test]
fn second_daemon_on_same_rundir_refuses() {
    let mut w = World::start();
    let mut second = w.daemon_command();
    // Only warnings and errors: the refusal must be among them, not in debug chatter.
    second.env("RUST_LOG", "warn");
    let out = common::run_with_timeout(second, GENEROUS).expect("second daemon exits by itself");
    let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(
        !out.status.success(),
        "second daemon exited with {}: {stderr}",
        out.status
    );
    assert!(
        ["already", "lock", "running"]
            .iter()
            .any(|k| stderr.contains(k)),
        "second daemon's message does not say why: {stderr:?}"
    );
    // The first daemon and its sockets are untouched.
    w.assert_daemon_alive();
    assert!(w.app_socket().exists() && w.ctl_socket().exists());
    let app = w.spawn_app(&["-w"]);
    w.wait_registered(app.pid(), GENEROUS);
}

#[test]
fn app_started_before_daemon_registers_when_it_starts() {
    let mut w = World::builder().without_daemon();
    let app = w.spawn_app(&["-w"]);
    // No daemon: lttng-ust does not hold main() back for its constructor
    // wait (see CONSTRUCTOR_WAIT for the margin).
    let ms = app.main_reached_ms();
    assert!(
        u128::from(ms) < CONSTRUCTOR_WAIT.as_millis(),
        "main() reached after {ms} ms without a daemon: lttng-ust waited out its constructor wait"
    );
    w.start_daemon();
    // The app waits on the wait shm the daemon sets and wakes.
    w.wait_registered(app.pid(), GENEROUS);
}

#[test]
fn forked_child_registers_as_its_own_app() {
    let w = World::start();
    let fork_lib = common::ust_fork_lib();
    // Parent and child both linger 60 s after emitting; dropping the world
    // kills them.
    let app = w.spawn_app_env(
        &["-f", "-n", "1", "-d", "60000"],
        &[("LD_PRELOAD", &fork_lib)],
    );
    let child: i32 = app
        .wait_line("child ", GENEROUS)
        .parse()
        .expect("child pid");
    let entries = w.wait_all_registered(&[app.pid(), child], GENEROUS);
    let (p, c) = (&entries[0], &entries[1]);
    assert_eq!((c.pid, c.vpid, c.ppid), (child, child, app.pid()), "{c:?}");
    assert_ne!(p.app_id, c.app_id);

    // The child leaving does not take its parent along.
    common::signal(child, libc::SIGKILL);
    w.wait_gone(&[child], GENEROUS);
    w.wait_registered(app.pid(), Duration::ZERO);
}

#[test]
fn exec_replaces_the_entry_of_the_same_pid() {
    let w = World::start();
    let app = w.spawn_app(&["-x", "-w"]);
    let before = w.wait_registered(app.pid(), GENEROUS);
    // exec closes the old image's sockets (CLOEXEC) and the new image
    // registers again under the same pid.
    app.signal(libc::SIGUSR1);
    let after = common::wait_until("the exec'd image to replace the entry", GENEROUS, || {
        let mine: Vec<_> = w
            .list()
            .into_iter()
            .filter(|e| e.pid == app.pid())
            .collect();
        match mine.as_slice() {
            [e] if e.app_id != before.app_id => Some(e.clone()),
            _ => None,
        }
    });
    assert_eq!(
        (after.vpid, after.name.as_str()),
        (app.pid(), "ustd-fixture")
    );
    // It stays: the old image's teardown must not remove the new one.
    std::thread::sleep(Duration::from_secs(1));
    let mine: Vec<_> = w
        .list()
        .into_iter()
        .filter(|e| e.pid == app.pid())
        .collect();
    assert_eq!(mine, vec![after]);
}

/// Past the fd budget, a new app is refused with a logged reason; the
/// daemon keeps serving, and an app fits again once another one left.
#[test]
fn apps_past_the_fd_budget_are_refused_not_fatal() {
    // Each registered app holds 2 fds (command and notify sockets).
    let mut w = World::builder().daemon_env("USTD_FD_BUDGET", "4").start();
    let mut a = w.spawn_app(&["-w"]);
    let b = w.spawn_app(&["-w"]);
    w.wait_all_registered(&[a.pid(), b.pid()], GENEROUS);

    let c = w.spawn_app(&["-w"]);
    wait_until("the refusal is logged", GENEROUS, || {
        w.daemon_log().contains("fd budget exhausted").then_some(())
    });
    // The refused app still runs (lttng-ust does not block it forever).
    c.wait_line("main reached", GENEROUS);
    assert!(
        w.list().iter().all(|e| e.pid != c.pid()),
        "app past the budget was registered"
    );
    w.assert_daemon_alive();

    // One app leaves: the refused one gets in when lttng-ust retries.
    a.signal(libc::SIGTERM);
    a.wait_exit(GENEROUS);
    w.wait_registered(c.pid(), Duration::from_secs(30));
}
