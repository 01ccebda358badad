//! Issue 2: app registration. Real LTTng-UST fixture apps and raw protocol
//! clients against `ustd daemon` in a private mount namespace (see
//! `common/mod.rs`). Needs root, gcc and liblttng-ust-dev.

mod common;

use common::raw::{self, FakeApp};
use common::{wait_until, App, World, GENEROUS};
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};
use ustd::wire::cmd::op;
use ustd::wire::reg::{SocketType, REG_MSG_LEN};

/// lttng-ust's constructor blocks up to 3 s for the handshake; the issue
/// requires main() well under that.
const MAIN_REACHED_BOUND_MS: u64 = 1000;
/// The bound between an app's exit and its entry's removal.
const GONE_AFTER_EXIT_BOUND: Duration = Duration::from_secs(1);
/// A daemon timing out hostile sockets after 1 s must have closed them well
/// within this.
const HOSTILE_CLOSE_WITHIN: Duration = Duration::from_secs(10);

fn test_pid() -> i32 {
    std::process::id() as i32
}

/// A daemon with a 1 s handshake deadline, and its fd count with no client.
fn hostile_world() -> (World, usize) {
    let w = World::builder()
        .daemon_env("LTTNG_APP_SOCKET_TIMEOUT", "1")
        .start();
    let baseline = w.settled_fd_count();
    (w, baseline)
}

/// Checks what every hostile-input test must hold afterwards: the daemon is
/// up and answering, an honest app registered, nothing is listed under the
/// test process's pid, and once the honest app is gone the daemon holds no
/// more fds than before the test.
fn assert_survived(w: &mut World, honest: App, fd_baseline: usize) {
    w.assert_daemon_alive();
    let e = w.wait_registered(honest.pid(), GENEROUS);
    assert_eq!(e.vpid, honest.pid());
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

#[test]
fn fixture_reaches_main_well_under_constructor_wait() {
    let w = World::builder().exclusive().start();
    for _ in 0..3 {
        let app = w.spawn_app(&["-w"]);
        let ms = app.main_reached_ms();
        eprintln!("main() reached after {ms} ms");
        // A daemon that never completed the handshake would also free main()
        // (after 3 s): check that the app did register.
        let e = w.wait_registered(app.pid(), GENEROUS);
        assert_eq!(e.name, "ustd-fixture");
        assert!(
            ms < MAIN_REACHED_BOUND_MS,
            "main() reached {ms} ms after process start (bound {MAIN_REACHED_BOUND_MS} ms)"
        );
    }
}

#[test]
fn fifty_apps_register_and_leave_within_a_second() {
    const N: usize = 50;
    let w = World::builder().exclusive().start();
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

    // Stop them all at once; a thread per app records when it exited.
    let (tx, rx) = std::sync::mpsc::channel::<(i32, Instant)>();
    for mut app in apps {
        let tx = tx.clone();
        app.signal(libc::SIGTERM);
        std::thread::spawn(move || {
            let st = app.wait();
            assert!(st.success(), "app {} exited with {st}", app.pid());
            let _ = tx.send((app.pid(), Instant::now()));
        });
    }
    drop(tx);

    let mut exited: Vec<(i32, Instant)> = Vec::new();
    let mut gone_at: std::collections::HashMap<i32, Instant> = Default::default();
    let deadline = Instant::now() + Duration::from_secs(60);
    while gone_at.len() < N {
        assert!(
            Instant::now() < deadline,
            "apps still listed: {:?}",
            w.list()
        );
        while let Ok(x) = rx.try_recv() {
            exited.push(x);
        }
        let listed: Vec<i32> = w.list().iter().map(|e| e.pid).collect();
        let now = Instant::now();
        for p in &pids {
            if !listed.contains(p) {
                gone_at.entry(*p).or_insert(now);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    while exited.len() < N {
        exited.push(rx.recv_timeout(GENEROUS).expect("every app exits"));
    }
    let worst = exited
        .iter()
        .map(|(p, t)| gone_at[p].saturating_duration_since(*t))
        .max();
    eprintln!("worst exit-to-removal lag: {worst:?}");
    for (pid, exit) in exited {
        let lag = gone_at[&pid].saturating_duration_since(exit);
        assert!(
            lag < GONE_AFTER_EXIT_BOUND,
            "app {pid} still listed {lag:?} after it exited (bound {GONE_AFTER_EXIT_BOUND:?})"
        );
    }
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

    // During registration: killed at staggered points of the handshake.
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

#[test]
fn hostile_wrong_magic_is_closed() {
    let (mut w, fds) = hostile_world();
    let mut bytes = raw::honest_reg(SocketType::Cmd).encode();
    bytes[0..4].copy_from_slice(&0xDEAD_BEEFu32.to_le_bytes());
    let mut s = raw::connect(&w.app_socket());
    s.write_all(&bytes).expect("send");
    let honest = w.spawn_app(&["-w"]);
    raw::wait_closed(&s, HOSTILE_CLOSE_WITHIN).expect("daemon closes a wrong-magic socket");
    assert_survived(&mut w, honest, fds);
}

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
            "byte-swapped magic",
            patch(0, ustd::wire::reg::REG_MAGIC.swap_bytes()),
        ),
        ("major 7", patch(4, 7)),
        ("major 10", patch(4, 10)),
        ("bits_per_long 16", patch(28, 16)),
        ("socket type 5", patch(52, 5)),
    ];
    let socks: Vec<(&str, UnixStream)> = cases
        .iter()
        .map(|(what, bytes)| {
            let mut s = raw::connect(&w.app_socket());
            s.write_all(bytes).expect("send");
            (*what, s)
        })
        .collect();
    let honest = w.spawn_app(&["-w"]);
    for (what, s) in &socks {
        raw::wait_closed(s, HOSTILE_CLOSE_WITHIN)
            .unwrap_or_else(|e| panic!("registration with {what}: {e}"));
    }
    assert_survived(&mut w, honest, fds);
}

#[test]
fn hostile_mute_or_lying_app_after_pairing_is_dropped() {
    let (mut w, fds) = hostile_world();
    let honest = w.spawn_app(&["-w"]);
    for answer in [raw::Answer::Mute, raw::Answer::WrongHandle] {
        let fake = FakeApp::register_answering(
            &w.app_socket(),
            &raw::honest_reg(SocketType::Cmd),
            &raw::honest_reg(SocketType::Notify),
            answer,
        );
        // The responder thread is the cmd socket's only reader.
        common::wait_until(
            &format!("the daemon to close a {answer:?} app's cmd socket"),
            HOSTILE_CLOSE_WITHIN,
            || fake.cmd_closed().then_some(()),
        );
        raw::wait_closed(&fake.notify, HOSTILE_CLOSE_WITHIN)
            .unwrap_or_else(|e| panic!("{answer:?} app: notify socket: {e}"));
        assert!(
            !fake.commands.lock().unwrap().is_empty(),
            "daemon sent no command"
        );
    }
    assert_survived(&mut w, honest, fds);
}

#[test]
fn hostile_truncated_registration_is_closed() {
    let (mut w, fds) = hostile_world();
    let bytes = raw::honest_reg(SocketType::Cmd).encode();
    // Half a message, then silence: only the timeout can end it.
    let mut stalled = raw::connect(&w.app_socket());
    stalled.write_all(&bytes[..REG_MSG_LEN / 2]).expect("send");
    // Half a message, then EOF.
    let mut short = raw::connect(&w.app_socket());
    short.write_all(&bytes[..REG_MSG_LEN - 1]).expect("send");
    short.shutdown(std::net::Shutdown::Write).expect("shutdown");
    let honest = w.spawn_app(&["-w"]);
    raw::wait_closed(&short, HOSTILE_CLOSE_WITHIN)
        .expect("daemon closes a truncated message at EOF");
    raw::wait_closed(&stalled, HOSTILE_CLOSE_WITHIN).expect("daemon times out a stalled message");
    assert_survived(&mut w, honest, fds);
}

#[test]
fn hostile_notify_without_cmd_is_closed() {
    let (mut w, fds) = hostile_world();
    let mut s = raw::connect(&w.app_socket());
    s.write_all(&raw::honest_reg(SocketType::Notify).encode())
        .expect("send");
    let honest = w.spawn_app(&["-w"]);
    raw::wait_closed(&s, HOSTILE_CLOSE_WITHIN).expect("daemon closes an unpaired notify socket");
    assert_survived(&mut w, honest, fds);
}

#[test]
fn hostile_cmd_without_notify_is_closed() {
    let (mut w, fds) = hostile_world();
    let mut s = raw::connect(&w.app_socket());
    s.write_all(&raw::honest_reg(SocketType::Cmd).encode())
        .expect("send");
    let honest = w.spawn_app(&["-w"]);
    raw::wait_closed(&s, HOSTILE_CLOSE_WITHIN).expect("daemon times out a cmd socket never paired");
    assert_survived(&mut w, honest, fds);
}

#[test]
fn hostile_silent_clients_are_closed() {
    let (mut w, fds) = hostile_world();
    let silent: Vec<UnixStream> = (0..20).map(|_| raw::connect(&w.app_socket())).collect();
    let honest = w.spawn_app(&["-w"]);
    for s in &silent {
        raw::wait_closed(s, HOSTILE_CLOSE_WITHIN).expect("daemon times out a silent client");
    }
    // Idle registered apps are not subject to the handshake timeout.
    w.wait_registered(honest.pid(), GENEROUS);
    std::thread::sleep(Duration::from_secs(3));
    w.wait_registered(honest.pid(), Duration::ZERO);
    assert_survived(&mut w, honest, fds);
}

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

    let honest = w.spawn_app(&["-w"]);
    (&fake.notify).write_all(&[0xFF; 64]).expect("send garbage");
    raw::wait_closed(&fake.notify, HOSTILE_CLOSE_WITHIN)
        .expect("daemon closes a notify socket sending garbage");
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
    // No daemon: lttng-ust does not hold main() back.
    let ms = app.main_reached_ms();
    assert!(
        ms < MAIN_REACHED_BOUND_MS,
        "main() reached after {ms} ms without a daemon"
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
