//! Model 4: publication of a registering app against readers and a hang-up.
#![cfg(ustd_loom)]

use std::sync::atomic::{AtomicUsize, Ordering};

use loom::thread;
use ustd::core::admission::{Admission, Admitted};
use ustd::core::app::{App, AppState};
use ustd::core::registry::{AppRegistry, PublishError};
use ustd::core::session::Sessions;
use ustd::sync::Arc;
use ustd_loom_tests::{without_mutants, ModelConn, World};

/// Coverage, across executions: a reader saw the app; the hang-up won the
/// race with publication.
static SEEN: AtomicUsize = AtomicUsize::new(0);
static TORN_BEFORE_LIVE: AtomicUsize = AtomicUsize::new(0);

/// What a reader may rely on once it sees `app` live: its setup is complete.
/// The registry's share of setup is every index entry; the registration
/// task's share (handshake, global update) is visible through a lease.
fn check_whole(registry: &AppRegistry<ModelConn>, app: &Arc<App<ModelConn>>) {
    SEEN.fetch_add(1, Ordering::Relaxed);
    let indexed = [
        registry.get(app.id),
        registry.lookup_by_cmd_sock(app.info.cmd_key),
        registry.lookup_by_notify_sock(app.info.notify_key),
        registry.lookup_by_pid(app.info.creds.pid),
    ];
    for found in indexed {
        match found {
            Some(found) => assert!(Arc::ptr_eq(&found, app), "an index maps to another app"),
            // Missing is fine only once the app is being torn down.
            None => assert_eq!(
                app.state(),
                AppState::Dying,
                "a live app is missing from an index"
            ),
        }
    }
    if let Some(conn) = app.lease() {
        assert!(
            conn.cmd.read(),
            "a reader saw the app before its setup was done"
        );
    }
}

/// App A connected: its shell exists (`Registering`), its registration task
/// and its notify task each hold a lease. Racing:
///
/// - *register*: the registration task's steps (ustd's own
///   `core::admission`): begin, finish A's setup on the command socket,
///   publish A;
/// - *reader*: a command iterates the registry, and a lookup by A's command
///   fd runs, as the control and dispatch paths do;
/// - *hang-up*: A's notify socket hung up during the handshake; its task
///   unregisters A;
///
/// while the main thread is the reaper.
///
/// Invariants:
/// 1. No reader sees A before its setup completed: an app a reader can see
///    is in every index (unless already being torn down) and its setup is
///    visible to the reader.
/// 2. Publication and the hang-up agree: publish succeeds iff the hang-up
///    came after it; either way A ends in no index, and its resources reach
///    the reaper exactly once.
fn publication() {
    let world = World::new();
    let a = world.connect(100);
    let reg_task = a.lease().expect("a registering app hands out leases");
    let notify_task = a.lease().expect("a registering app hands out leases");

    let register = {
        let (registry, a) = (world.registry.clone(), a.clone());
        thread::spawn(move || {
            // No configuration change in this model: the admission's
            // generation check always says up to date.
            let sessions = Sessions::<()>::default();
            let admission = Admission::begin(&sessions);
            reg_task.cmd.write();
            reg_task.cmd.mark_setup_done();
            let published = admission.publish(&sessions, &registry, &a);
            drop(reg_task);
            published
        })
    };
    let reader = {
        let (registry, cmd_fd) = (world.registry.clone(), a.info.cmd_key);
        thread::spawn(move || {
            for app in registry.snapshot() {
                check_whole(&registry, &app);
            }
            if let Some(app) = registry.lookup_by_cmd_sock(cmd_fd) {
                check_whole(&registry, &app);
            }
        })
    };
    let hangup = {
        let (registry, a) = (world.registry.clone(), a.clone());
        thread::spawn(move || {
            let won = registry.unregister(&a);
            drop(notify_task);
            won
        })
    };

    assert_eq!(world.reap_one(), a.id);
    let published = register.join().expect("model thread panicked");
    reader.join().expect("model thread panicked");
    assert!(
        hangup.join().expect("model thread panicked"),
        "the only teardown wins"
    );
    match published {
        Ok(admitted) => assert_eq!(admitted, Admitted::UpToDate),
        Err(PublishError::TornDown) => {
            TORN_BEFORE_LIVE.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => panic!("unexpected publish failure: {e}"),
    }
    assert_eq!(
        world.registry.index_counts(),
        [0; 4],
        "A left an index entry"
    );
    assert!(!world.job_pending(), "teardown I/O ran twice");
}

without_mutants! {
    #[test]
    fn model_publication() {
        ustd_loom_tests::explore("publication", publication);
        assert!(SEEN.load(Ordering::Relaxed) > 0, "no reader ever saw the app");
        assert!(TORN_BEFORE_LIVE.load(Ordering::Relaxed) > 0, "the hang-up never beat publication");
    }
}

/// Mutant `publish_early`: the app goes live before its last index entries
/// exist.
#[cfg(ustd_mutant = "publish_early")]
#[test]
fn mutant_publish_early_is_caught() {
    // Invariant 1.
    ustd_loom_tests::expect_failure(
        "publication",
        &[
            "a reader saw the app before its setup was done",
            "a live app is missing from an index",
        ],
        publication,
    );
}
