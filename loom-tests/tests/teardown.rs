//! Model 1: app teardown against a notify request and a command fan-out.
#![cfg(ustd_loom)]

use std::sync::atomic::AtomicUsize;

use loom::thread;
use ustd::core::app::{App, AppState, Lease};
use ustd::core::metadata::MetadataRegistry;
use ustd::sync::atomic::{AtomicBool, Ordering};
use ustd::sync::Arc;
use ustd_loom_tests::metadata::{event, per_uid_registry, CHANNEL_KEY};
use ustd_loom_tests::{without_mutants, ModelConn, World};

/// Coverage, across executions: the notify reply was a success / an error;
/// the fan-out used A's connection.
static REPLIED_OK: AtomicUsize = AtomicUsize::new(0);
static REPLIED_ERROR: AtomicUsize = AtomicUsize::new(0);
static FANOUT_USED_A: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug, PartialEq, Eq)]
enum Reply {
    Ok,
    Error,
}

/// The notify task's handling of one REGISTER_EVENT, as `io::notify`
/// does it: find the app's objects through a fresh lease (refused once
/// teardown has begun), register the event in the session's metadata
/// registry, then reply on the notify socket the task holds.
fn handle_notify(
    app: &App<ModelConn>,
    task: &Lease<ModelConn>,
    metadata: &MetadataRegistry,
) -> Reply {
    let reply = match app.lease() {
        None => Reply::Error,
        Some(conn) => {
            // Reading the app's object table to find the channel.
            conn.notify.read();
            match metadata.register_event(CHANNEL_KEY, &event("model:event")) {
                Ok(_) => Reply::Ok,
                Err(_) => Reply::Error,
            }
        }
    };
    task.notify.write();
    reply
}

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
/// 3. Teardown I/O runs exactly once, after the last user: one job reaches
///    the reaper, only when every lease is gone, and no second one follows.
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
    let metadata = Arc::new(per_uid_registry());

    let hangup = {
        let (registry, a, torn_down) = (world.registry.clone(), a.clone(), torn_down.clone());
        thread::spawn(move || {
            assert!(registry.unregister(&a), "the only teardown wins");
            torn_down.store(true, Ordering::SeqCst);
            drop(cmd_task);
        })
    };
    let notify = {
        let (a, torn_down, metadata) = (a.clone(), torn_down.clone(), metadata.clone());
        thread::spawn(move || {
            let after_teardown = torn_down.load(Ordering::SeqCst);
            let reply = handle_notify(&a, &notify_task, &metadata);
            if after_teardown {
                assert_eq!(
                    reply,
                    Reply::Error,
                    "a reply after teardown must be an error"
                );
            }
            let seen = if reply == Reply::Ok {
                &REPLIED_OK
            } else {
                &REPLIED_ERROR
            };
            seen.fetch_add(1, Ordering::Relaxed);
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

    assert_eq!(world.reap_one(), a.id);
    for t in [hangup, notify, fanout] {
        t.join().expect("model thread panicked");
    }
    assert!(!world.job_pending(), "teardown I/O ran twice");
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
        for (what, n) in [("ok reply", &REPLIED_OK), ("error reply", &REPLIED_ERROR), ("fan-out use", &FANOUT_USED_A)] {
            assert!(n.load(Ordering::Relaxed) > 0, "no execution produced a {what}");
        }
    }
}

/// Mutant `teardown_early`: unregister hands A's resources to the reaper
/// without waiting for the leases still held.
#[cfg(ustd_mutant = "teardown_early")]
#[test]
fn mutant_teardown_early_is_caught() {
    ustd_loom_tests::expect_failure(
        "teardown vs notify vs fan-out",
        teardown_vs_notify_vs_fanout,
    );
}
