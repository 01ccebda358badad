//! Model 10: room in a network session's packet queue (`core::room`) — the
//! consumer thread, which must never wait on the queue, against the relayd
//! worker taking packets.
#![cfg(ustd_loom)]

use std::sync::atomic::{AtomicUsize, Ordering};

use loom::thread;
use ustd::core::room::Room;
use ustd::sync::atomic::{AtomicBool, AtomicUsize as Queued};
use ustd::sync::Arc;
use ustd_loom_tests::without_mutants;

/// Coverage, across executions: the producer was held back and woken.
static WOKEN: AtomicUsize = AtomicUsize::new(0);

const CAP: usize = 2;
const SENT: u64 = 3;

/// The producer (the consumer thread): sends while there is room, and
/// stops at the first "no room" (it then sleeps until woken). Returns how
/// many it sent.
fn produce(room: &Room, queued: &Queued) -> u64 {
    let mut sent = 0;
    while sent < SENT && room.has_room(sent) {
        queued.fetch_add(1, Ordering::Release);
        sent += 1;
    }
    sent
}

/// The taker (the relayd worker): takes `n` packets as they come, telling
/// the room after each take; records a wake-up.
fn take(room: &Room, queued: &Queued, n: usize, woken: &AtomicBool) {
    for _ in 0..n {
        loop {
            let q = queued.load(Ordering::Acquire);
            if q > 0
                && queued
                    .compare_exchange(q, q - 1, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                if room.taken(q - 1) {
                    woken.store(true, Ordering::Release);
                }
                break;
            }
            thread::yield_now();
        }
    }
}

/// The queue holds two; the producer has three to send, the taker takes
/// the first two (the producer always sends at least those).
///
/// Invariant: a producer held back is woken once the taker made room.
fn room() {
    let room = Arc::new(Room::new(CAP));
    let queued = Arc::new(Queued::new(0));
    let woken = Arc::new(AtomicBool::new(false));
    let taker = {
        let (room, queued, woken) = (room.clone(), queued.clone(), woken.clone());
        thread::spawn(move || take(&room, &queued, CAP, &woken))
    };
    let sent = produce(&room, &queued);
    taker.join().expect("model thread panicked");
    let held_back = sent < SENT;
    let woken = woken.load(Ordering::Acquire);
    if held_back && woken {
        WOKEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    assert!(!held_back || woken, "a held-back producer was never woken");
}

without_mutants! {
    #[test]
    fn model_room() {
        ustd_loom_tests::explore("room", room);
        assert!(WOKEN.load(std::sync::atomic::Ordering::Relaxed) > 0, "the producer was never held back");
    }
}

/// Mutant `room_blind_want`: the producer asks for a wake-up with a blind
/// `fetch_or`, ignoring takes since it judged the queue full. A taker that
/// emptied the queue in between saw no request, and nothing wakes the
/// producer.
#[cfg(ustd_mutant = "room_blind_want")]
#[test]
fn mutant_room_blind_want_is_caught() {
    ustd_loom_tests::expect_failure("room", &["a held-back producer was never woken"], room);
}
