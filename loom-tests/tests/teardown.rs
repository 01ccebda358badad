//! Model 1: app teardown against a notify request and a command fan-out.
#![cfg(ustd_loom)]

use std::sync::atomic::AtomicUsize;

use loom::thread;
use ustd::core::app::{App, AppState, Lease};
use ustd::core::notify::{dispatch, error_reply, NotifyError, NotifyTarget, ObjRef};
use ustd::sync::atomic::{AtomicBool, Ordering};
use ustd::sync::{lock, Arc};
use ustd::wire::notify::NotifyRequest;
use ustd_loom_tests::metadata::{event, per_uid_registry, ModelTrace, CHANNEL_KEY};
use ustd_loom_tests::{without_mutants, ModelConn, World};

/// Coverage, across executions: the notify reply was a success / an error;
/// the fan-out used A's connection; the last user to drop its lease was the
/// notify task (so the reaper waited for it).
static REPLIED_OK: AtomicUsize = AtomicUsize::new(0);
static REPLIED_ERROR: AtomicUsize = AtomicUsize::new(0);
static FANOUT_USED_A: AtomicUsize = AtomicUsize::new(0);
static NOTIFY_LAST: AtomicUsize = AtomicUsize::new(0);

/// The notify task's handling of one REGISTER_EVENT: ustd's own dispatch
/// (`core::notify::dispatch`: a fresh lease, refused once teardown began;
/// the app's object table; the session's trace; the registration in its
/// per-UID metadata registry), then the reply on the notify socket the task
/// holds, as `io::notify` writes it. Returns whether the reply is a success.
fn handle_notify(app: &App<ModelConn>, task: &Lease<ModelConn>, trace: &Arc<ModelTrace>) -> bool {
    let req = NotifyRequest::Event(event("model:event"));
    let ok = match dispatch(app, &req, |session| {
        (session == SESSION).then(|| trace.clone())
    }) {
        Ok(_) => true,
        Err(e) => {
            assert!(
                matches!(e, NotifyError::Gone),
                "refused for another reason than the teardown: {e}"
            );
            let reply = error_reply(&req, &e, ModelTrace::ret_code);
            assert!(!reply.is_empty(), "every request gets a reply");
            false
        }
    };
    task.notify.write();
    ok
}

/// The session the app's objects belong to, and its channel handle.
const SESSION: u64 = 1;
const CHANNEL_HANDLE: u32 = 0; // `event()`'s channel_objd

/// App A is live, with its command actor and notify task each holding a
/// lease, as after registration. Three threads then race:
///
/// - *hang-up*: A's command socket hung up; the actor unregisters A and ends,
///   dropping its lease;
/// - *notify*: A's notify task handles one REGISTER_EVENT (register in the
///   session's per-UID metadata registry, then reply) and ends;
/// - *fan-out*: a command iterates the registry and uses each app's
///   connection;
///
/// while the model's main thread is the reaper.
///
/// Invariants:
/// 1. Nothing touches A's freed state: every use of A's sockets is ordered
///    before their close (loom cells) and finds them open.
/// 2. A notify reply produced after the teardown was observed is an error
///    reply.
/// 3. Teardown runs exactly once, after the last user: one job reaches the
///    reaper (ustd's `reap`), and A's sockets are closed (its resources
///    dropped) before the app-gone work (final metadata push) runs; no
///    second job follows.
/// 4. The iteration sees A whole or not at all: a published app, whose
///    connection, when it gets one, is A's own and open.
/// 5. Afterwards no index holds A.
fn teardown_vs_notify_vs_fanout() {
    let world = World::new();
    let a = world.connect(100);
    world
        .registry
        .publish(&a)
        .expect("nothing races the first publish");
    let cmd_task = a.lease().expect("a live app hands out leases");
    let notify_task = a.lease().expect("a live app hands out leases");
    let torn_down = Arc::new(AtomicBool::new(false));
    let trace = Arc::new(ModelTrace {
        registry: per_uid_registry(),
    });
    // A's sync mapped its channel (what `io::app_sync` records).
    lock(&cmd_task.objects).insert(
        CHANNEL_HANDLE,
        ObjRef::Channel {
            session_id: SESSION,
            chan_key: CHANNEL_KEY as u32,
            gen: 0,
        },
    );

    // Spawned users first, hang-up last: loom's first schedule (no
    // preemption) runs them in this order, all uses before the teardown, so
    // the mutant needs a real interleaving to show.
    let notify = {
        let (a, torn_down, trace) = (a.clone(), torn_down.clone(), trace.clone());
        thread::spawn(move || {
            let after_teardown = torn_down.load(Ordering::SeqCst);
            let ok = handle_notify(&a, &notify_task, &trace);
            if after_teardown {
                assert!(!ok, "a reply after teardown must be an error");
            }
            let seen = if ok { &REPLIED_OK } else { &REPLIED_ERROR };
            seen.fetch_add(1, Ordering::Relaxed);
            if Arc::strong_count(&notify_task) == 1 {
                NOTIFY_LAST.fetch_add(1, Ordering::Relaxed);
            }
            drop(notify_task);
        })
    };
    let fanout = {
        let registry = world.registry.clone();
        thread::spawn(move || {
            for app in registry.snapshot() {
                assert_ne!(
                    app.state(),
                    AppState::Registering,
                    "unpublished app iterated"
                );
                if let Some(conn) = app.lease() {
                    assert_eq!(conn.owner, app.id, "an app's lease is its own connection");
                    conn.cmd.read();
                    FANOUT_USED_A.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };

    let hangup = {
        let (registry, a, torn_down) = (world.registry.clone(), a.clone(), torn_down.clone());
        thread::spawn(move || {
            assert!(registry.unregister(&a), "the only teardown wins");
            torn_down.store(true, Ordering::SeqCst);
            drop(cmd_task);
        })
    };
    assert_eq!(world.reap_one(), a.id);
    for t in [notify, fanout, hangup] {
        t.join().expect("model thread panicked");
    }
    assert!(!world.job_pending(), "teardown I/O ran twice");
    assert_eq!(world.gone(), [a.id], "the app-gone work ran once, for A");
    assert_eq!(
        world.registry.index_counts(),
        [0; 4],
        "A left an index entry"
    );
}

without_mutants! {
    #[test]
    fn model_teardown_vs_notify_vs_fanout() {
        ustd_loom_tests::explore("teardown vs notify vs fan-out", teardown_vs_notify_vs_fanout);
        // The model must reach the cases it is about.
        for (what, n) in [
            ("ok reply", &REPLIED_OK),
            ("error reply", &REPLIED_ERROR),
            ("fan-out use", &FANOUT_USED_A),
            ("notify task as the last user", &NOTIFY_LAST),
        ] {
            assert!(n.load(Ordering::Relaxed) > 0, "no execution produced a {what}");
        }
    }
}

/// Mutant `teardown_early`: unregister hands A's resources to the reaper
/// without waiting for the leases still held, so the app-gone work (final
/// metadata push) may run while the notify task still registers events.
/// Loom's first schedule runs the users before the hang-up, so it passes:
/// the mutant needs the hang-up to come before the notify task's end.
#[cfg(ustd_mutant = "teardown_early")]
#[test]
fn mutant_teardown_early_is_caught() {
    // Invariant 3.
    ustd_loom_tests::expect_failure(
        "teardown vs notify vs fan-out",
        &[ustd_loom_tests::GONE_TOO_EARLY],
        teardown_vs_notify_vs_fanout,
    );
}
