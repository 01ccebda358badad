//! Coalescing of metadata pushes.
//!
//! Every channel, event or enum an app registers appends to a set's
//! metadata, and the append must reach the consumer. One push task per
//! append would queue a blocking thread per registration behind the set's
//! `pushing` lock: a storm of registrations grew tokio's blocking pool to
//! its 512-thread cap. A push writes everything appended so far, so one
//! queued push per set is enough.
//!
//! # Protocol
//!
//! * An appender, after its append, calls [`PushGate::request`]; only when
//!   it returns true (no push was queued) does it schedule a push.
//! * The scheduled push calls [`PushGate::begin`] right before it reads the
//!   registry, and then pushes everything.
//!
//! Nothing appended is left unpushed: an append whose `request` saw the
//! flag set happened before the queued push's `begin` in the flag's
//! modification order (both are read-modify-writes), and `begin`'s acquire
//! makes the append visible to the push that follows it; an append after
//! `begin` finds the flag clear and schedules a push of its own.

use crate::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Default)]
pub struct PushGate {
    queued: AtomicBool,
}

impl PushGate {
    pub fn new() -> Self {
        Self::default()
    }

    /// After an append: whether the caller must schedule a push (true) or
    /// one already queued will carry the append (false).
    pub fn request(&self) -> bool {
        #[cfg(ustd_mutant = "push_gate_load")]
        {
            // Mutant: check-then-set. Two appenders both see "none queued"
            // (harmless), but a push's `begin` between the check and the set
            // leaves the flag set with nothing queued: later appends wait
            // for a push that never comes.
            let queued = self.queued.load(Ordering::Acquire);
            self.queued.store(true, Ordering::Release);
            return !queued;
        }
        #[allow(unreachable_code)]
        !self.queued.swap(true, Ordering::AcqRel)
    }

    /// The queued push, right before it reads what to push.
    pub fn begin(&self) {
        self.queued.swap(false, Ordering::AcqRel);
    }
}

#[cfg(all(test, not(ustd_loom)))]
mod tests {
    use super::*;

    #[test]
    fn one_push_queued_until_it_begins() {
        let g = PushGate::new();
        assert!(g.request(), "first append schedules");
        assert!(!g.request(), "second rides on the queued push");
        g.begin();
        assert!(g.request(), "after begin, an append schedules anew");
    }
}
