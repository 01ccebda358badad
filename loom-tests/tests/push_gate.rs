//! Model 9: coalesced metadata pushes (`core::push_gate`) — registrations
//! appending to a set's metadata against the push queued for it.
#![cfg(ustd_loom)]

use std::sync::atomic::{AtomicUsize, Ordering};

use loom::thread;
use ustd::core::push_gate::PushGate;
use ustd::sync::{lock, Arc, Mutex};
use ustd_loom_tests::without_mutants;

/// Coverage, across executions: an append rode on a push already queued.
static RODE: AtomicUsize = AtomicUsize::new(0);

/// What the set's registry holds (appended) and what reached the consumer
/// (pushed), under one lock as the registry keeps them.
#[derive(Default)]
struct Registry {
    appended: usize,
    pushed: usize,
}

/// The queued push, as `SessionTrace::push_for` runs it: clear the gate,
/// then push everything appended so far.
fn push(gate: &PushGate, reg: &Mutex<Registry>) {
    gate.begin();
    let mut r = lock(reg);
    r.pushed = r.appended;
}

/// One registration, as the notify task runs it: append, then schedule a
/// push unless one is queued (returns whether it scheduled one).
fn register(gate: &PushGate, reg: &Mutex<Registry>) -> bool {
    lock(reg).appended += 1;
    let schedule = gate.request();
    if !schedule {
        RODE.fetch_add(1, Ordering::Relaxed);
    }
    schedule
}

/// A push is queued (an earlier registration requested it). Racing: that
/// push runs; an app registers two events, one after the other. Then every
/// push the registrations scheduled runs.
///
/// Invariant: every append reaches the consumer.
fn push_gate() {
    let gate = Arc::new(PushGate::new());
    let reg = Arc::new(Mutex::new(Registry::default()));
    assert!(gate.request(), "the setup's request queues the first push");
    let queued = {
        let (gate, reg) = (gate.clone(), reg.clone());
        thread::spawn(move || push(&gate, &reg))
    };
    let app = {
        let (gate, reg) = (gate.clone(), reg.clone());
        thread::spawn(move || (0..2).filter(|_| register(&gate, &reg)).count())
    };
    queued.join().expect("model thread panicked");
    let scheduled = app.join().expect("model thread panicked");
    for _ in 0..scheduled {
        push(&gate, &reg);
    }
    let r = lock(&reg);
    assert!(r.pushed == r.appended, "an append was never pushed");
}

without_mutants! {
    #[test]
    fn model_push_gate() {
        ustd_loom_tests::explore("push_gate", push_gate);
        assert!(RODE.load(Ordering::Relaxed) > 0, "no append ever rode on a queued push");
    }
}

/// Mutant `push_gate_load`: `request` checks, then sets. A push that begins
/// between the two leaves the gate set with no push queued, and every later
/// append waits for a push that never comes.
#[cfg(ustd_mutant = "push_gate_load")]
#[test]
fn mutant_push_gate_load_is_caught() {
    ustd_loom_tests::expect_failure("push_gate", &["an append was never pushed"], push_gate);
}
