//! Model 6: retirement of wedged per-UID buffers against an app's sync and
//! a new app of the UID registering (`core::handover`).
#![cfg(ustd_loom)]

use std::sync::atomic::{AtomicUsize, Ordering};

use loom::thread;
use ustd::core::app::AppId;
use ustd::core::handover::{Handover, Retire};
use ustd::sync::Arc;
use ustd_loom_tests::without_mutants;

/// Coverage, across executions: an attach landed on the retired
/// generation and was caught as lagging; the live app's sync saw the
/// retirement and moved it; the live app's sync missed it and the next tick
/// moved it.
static CAUGHT_LATE: AtomicUsize = AtomicUsize::new(0);
static MOVED_BY_SYNC: AtomicUsize = AtomicUsize::new(0);
static LIVE_CAUGHT_BY_TICK: AtomicUsize = AtomicUsize::new(0);

const LIVE: AppId = AppId(1);
const DEAD: AppId = AppId(2);
const NEW: AppId = AppId(3);

/// Generation 0 of a set: app LIVE attached, app DEAD attached and then
/// killed mid-event (it left). Racing:
///
/// - *retire*: the stall watcher retires generation 0;
/// - *sync*: LIVE's sync moves it if it sees a newer generation (forget,
///   then attach again), as `AppShadow::sync` does;
/// - *register*: NEW registers and attaches for its first buffers.
///
/// Then the watcher's next tick re-syncs every lagging app once.
///
/// Invariant: after that tick every live app maps the current generation
/// (the buffers a wedged set no longer feeds are never left in use), and
/// the generation moved exactly once.
fn handover() {
    let h = Arc::new(Handover::new());
    // What each app maps: the generation `attach` returned.
    assert_eq!(h.attach(LIVE), 0);
    assert_eq!(h.attach(DEAD), 0);
    h.detach(DEAD);
    let live_gen = Arc::new(ustd::sync::Mutex::new(0u32));
    let new_gen = Arc::new(ustd::sync::Mutex::new(None::<u32>));

    let retire = {
        let h = h.clone();
        thread::spawn(move || h.retire(0, false))
    };
    let sync = {
        let (h, live_gen) = (h.clone(), live_gen.clone());
        thread::spawn(move || {
            let mapped = *ustd::sync::lock(&live_gen);
            if h.current() != mapped {
                MOVED_BY_SYNC.fetch_add(1, Ordering::Relaxed);
                *ustd::sync::lock(&live_gen) = h.attach(LIVE);
            }
        })
    };
    let register = {
        let (h, new_gen) = (h.clone(), new_gen.clone());
        thread::spawn(move || {
            *ustd::sync::lock(&new_gen) = Some(h.attach(NEW));
        })
    };
    assert_eq!(
        retire.join().expect("model thread panicked"),
        Retire::Retired(1)
    );
    sync.join().expect("model thread panicked");
    register.join().expect("model thread panicked");

    // The watcher's next tick: lagging apps sync (and so re-attach).
    let lagging = h.lagging();
    if lagging.contains(&NEW) {
        CAUGHT_LATE.fetch_add(1, Ordering::Relaxed);
    }
    if lagging.contains(&LIVE) {
        LIVE_CAUGHT_BY_TICK.fetch_add(1, Ordering::Relaxed);
    }
    for app in lagging {
        let g = h.attach(app);
        if app == LIVE {
            *ustd::sync::lock(&live_gen) = g;
        } else {
            *ustd::sync::lock(&new_gen) = Some(g);
        }
    }
    let current = h.current();
    assert_eq!(current, 1, "one stall, one retirement");
    assert_eq!(
        *ustd::sync::lock(&live_gen),
        current,
        "the live app stays on retired buffers"
    );
    assert_eq!(
        *ustd::sync::lock(&new_gen),
        Some(current),
        "the new app stays on retired buffers"
    );
    assert!(h.lagging().is_empty());
}

without_mutants! {
    #[test]
    fn model_handover() {
        ustd_loom_tests::explore("handover", handover);
        for (what, n) in [
            ("a new app never attached to the retired generation", &CAUGHT_LATE),
            ("the live app's sync never saw the retirement", &MOVED_BY_SYNC),
            ("the tick never had to move the live app", &LIVE_CAUGHT_BY_TICK),
        ] {
            assert!(n.load(Ordering::Relaxed) > 0, "{what}");
        }
    }
}

/// Mutant `attach_records_current`: attach hands out one generation and
/// records another, so an app attached across a retirement is never moved.
#[cfg(ustd_mutant = "attach_records_current")]
#[test]
fn mutant_attach_records_current_is_caught() {
    ustd_loom_tests::expect_failure(
        "handover",
        &[
            "the new app stays on retired buffers",
            "the live app stays on retired buffers",
        ],
        handover,
    );
}
