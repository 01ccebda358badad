//! Model 3: an app leaves and a new one arrives with its pid and fds.
#![cfg(ustd_loom)]

use std::sync::atomic::{AtomicUsize, Ordering};

use loom::thread;
use ustd::core::app::App;
use ustd::sync::Arc;
use ustd_loom_tests::{without_mutants, ModelConn, World};

const PID: i32 = 100;

/// Coverage, across executions: B took A's fd numbers; B was published
/// while A was still live (so B replaced A in the pid index).
static FD_REUSED: AtomicUsize = AtomicUsize::new(0);
static PID_OVERLAP: AtomicUsize = AtomicUsize::new(0);
/// Which of A's two teardowns won: A's own task / the stale request.
static LEAVE_WON: AtomicUsize = AtomicUsize::new(0);
static STALE_WON: AtomicUsize = AtomicUsize::new(0);

/// Checks that `found`, reached through `key` (a socket fd), is the app
/// whose open socket that fd is: a lookup never reaches another app's state.
fn check_found_by_fd(
    found: &App<ModelConn>,
    key: i32,
    socket: fn(&ModelConn) -> &ustd_loom_tests::Socket,
) {
    if let Some(conn) = found.lease() {
        assert_eq!(conn.owner, found.id, "an app's lease is its own connection");
        let s = socket(&conn);
        assert_eq!(s.fd, key, "index key and socket fd disagree");
        s.read();
    }
}

/// App A (pid 100) is live; its notify task holds a lease. Then, racing:
///
/// - *A leaves*: its notify socket hung up; the task unregisters A through
///   its own handle and ends;
/// - *B arrives*: a new process with the same pid connects (its sockets take
///   the lowest free fds, so A's numbers once the reaper closed them),
///   registers and keeps serving;
/// - *stale*: work still addressed to A: a lookup by A's id, by A's notify
///   fd and by the pid, each followed by a use of what it found, then a
///   second teardown request for A (its other task noticing the hang-up);
///
/// while the main thread is the reaper for one job, then checks the end
/// state.
///
/// Invariants:
/// 1. No lookup, notify or teardown of A reaches B's state, nor the reverse:
///    a lookup by A's id finds A or nothing; a lookup by an fd finds the app
///    whose open socket that fd is; A's teardowns close A's sockets only.
/// 2. B's publication succeeds even when it reuses A's fds (they left every
///    index before being closed).
/// 3. Exactly one teardown of A wins, and the one teardown job is A's;
///    afterwards B is live and in every index,
///    and the pid lookup finds B.
fn fd_and_pid_reuse() {
    let world = World::new();
    let a = world.connect(PID);
    world
        .registry
        .publish(&a)
        .expect("nothing races the first publish");
    let a_task = a.lease().expect("a live app hands out leases");
    let a_notify_fd = a.info.notify_key;

    // Spawned in this order so that loom's first schedule (no preemption)
    // runs the stale work, then A's teardown, then B: a pid then still finds
    // A, and a mutant needs a real interleaving (B in before a teardown of
    // A) to show.
    let stale = {
        let (registry, a) = (world.registry.clone(), a.clone());
        thread::spawn(move || {
            if let Some(found) = registry.get(a.id) {
                assert!(
                    Arc::ptr_eq(&found, &a),
                    "a lookup by A's id found another app"
                );
                check_found_by_fd(&found, a_notify_fd, |c| &c.notify);
            }
            if let Some(found) = registry.lookup_by_notify_sock(a_notify_fd) {
                check_found_by_fd(&found, a_notify_fd, |c| &c.notify);
            }
            if let Some(found) = registry.lookup_by_pid(PID) {
                assert_eq!(found.info.creds.pid, PID);
                check_found_by_fd(&found, found.info.cmd_key, |c| &c.cmd);
            }
            // A second teardown request for A: only one of the two wins.
            registry.unregister(&a)
        })
    };

    let a_leaves = {
        let (registry, a) = (world.registry.clone(), a.clone());
        thread::spawn(move || {
            let won = registry.unregister(&a);
            drop(a_task);
            won
        })
    };
    let b_arrives = {
        let (registry, connect, a_id) = (world.registry.clone(), world.connector(), a.id);
        thread::spawn(move || {
            let b = connect(PID);
            registry
                .publish(&b)
                .expect("B registers despite reusing A's pid or fds");
            if registry.get(a_id).is_some() {
                PID_OVERLAP.fetch_add(1, Ordering::Relaxed);
            }
            b
        })
    };
    assert_eq!(world.reap_one(), a.id, "the teardown job is A's");
    let won = [a_leaves, stale].map(|t| t.join().expect("model thread panicked"));
    assert_eq!(
        won.iter().filter(|w| **w).count(),
        1,
        "exactly one teardown of A wins"
    );
    let winner = if won[0] { &LEAVE_WON } else { &STALE_WON };
    winner.fetch_add(1, Ordering::Relaxed);
    let b = b_arrives.join().expect("model thread panicked");

    let registry = &world.registry;
    assert!(registry.get(b.id).is_some(), "B is live");
    let by_pid = registry.lookup_by_pid(PID).expect("the pid maps to B");
    assert!(Arc::ptr_eq(&by_pid, &b), "the pid maps to B, not to A");
    let by_fd = registry
        .lookup_by_cmd_sock(b.info.cmd_key)
        .expect("B's fd maps to B");
    assert!(Arc::ptr_eq(&by_fd, &b), "B's fd maps to B");
    assert_eq!(registry.index_counts(), [1; 4], "only B is indexed");
    b.lease().expect("B is live").notify.read();
    if b.info.notify_key == a_notify_fd {
        FD_REUSED.fetch_add(1, Ordering::Relaxed);
    }
    assert!(!world.job_pending(), "a second teardown ran");
}

without_mutants! {
    #[test]
    fn model_fd_and_pid_reuse() {
        ustd_loom_tests::explore("fd and pid reuse", fd_and_pid_reuse);
        // The model must reach the cases it is about.
        assert!(FD_REUSED.load(Ordering::Relaxed) > 0, "no execution reused A's fds");
        assert!(PID_OVERLAP.load(Ordering::Relaxed) > 0, "no execution had B replace A's pid");
        assert!(LEAVE_WON.load(Ordering::Relaxed) > 0, "A's own teardown never won");
        assert!(STALE_WON.load(Ordering::Relaxed) > 0, "the stale teardown never won");
    }
}

/// Mutant `pid_only`: unregister finds the app to tear down by its pid.
#[cfg(ustd_mutant = "pid_only")]
#[test]
fn mutant_pid_only_is_caught() {
    // Invariants 1 and 3: a teardown of A reaching B.
    ustd_loom_tests::expect_failure(
        "fd and pid reuse",
        &[
            "the teardown job is A's",
            "exactly one teardown of A wins",
            "B is live",
            "the pid maps to B",
            "used after its teardown",
            "no longer belongs to app",
        ],
        fd_and_pid_reuse,
    );
}
