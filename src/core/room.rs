//! Room in a bounded queue whose one producer must never wait on it.
//!
//! A network session's consumer thread puts packets into a bounded queue
//! that its relayd worker takes from. The consumer must not block there
//! (it also answers requests and watches every stream), so when the queue
//! is full it leaves the packets in the apps' ring buffers and goes back to
//! its event loop, and the worker wakes it once there is room again. The
//! danger is the classic lost wake-up: the worker empties the queue between
//! the consumer's "full" and its request for a wake-up, sees no request,
//! and the consumer then sleeps on a queue with room, its streams held back
//! until something else happens to wake it.
//!
//! # Protocol
//!
//! One word holds both sides: the number of packets taken so far (shifted
//! left by one) and the `WANT` bit. The producer counts what it sent itself
//! (it is the only sender).
//!
//! * The producer, before sending, reads the word: room if `sent - taken`
//!   is below the capacity. If not, it sets `WANT` by compare-exchange
//!   against the very word it judged full; if a take changed the word in
//!   between, the exchange fails and it judges again with the new count.
//! * The taker, after each take, adds one to the count (a read-modify-write
//!   that sees `WANT` if it was set before) and, if `WANT` is set and at
//!   most half of the queue is left, clears `WANT` (`fetch_and`) and wakes
//!   the producer; only the call that cleared it wakes.
//!
//! All of it is read-modify-writes on one location, so they are totally
//! ordered: a `WANT` set before a take is seen by that take; a take before
//! the exchange makes the exchange fail. The taker takes everything queued,
//! so the last take (nothing left, at most half) wakes a producer that set
//! `WANT`. Model-checked in `loom-tests/tests/room.rs`.

use crate::sync::atomic::{AtomicU64, Ordering};

const WANT: u64 = 1;

#[derive(Debug)]
pub struct Room {
    cap: u64,
    /// `taken << 1 | WANT`.
    state: AtomicU64,
}

impl Room {
    pub fn new(cap: usize) -> Self {
        Self {
            cap: cap as u64,
            state: AtomicU64::new(0),
        }
    }

    /// Producer, with `sent` packets sent so far: whether the queue takes
    /// one more now. False means the producer is held back and the taker
    /// will wake it (`taken` returns true) once there is room.
    pub fn has_room(&self, sent: u64) -> bool {
        let mut s = self.state.load(Ordering::Acquire);
        loop {
            if sent.wrapping_sub(s >> 1) < self.cap {
                return true;
            }
            #[cfg(ustd_mutant = "room_blind_want")]
            {
                // Mutant: the request ignores the takes made since the
                // queue was judged full; one that emptied it saw no request.
                self.state.fetch_or(WANT, Ordering::AcqRel);
                return false;
            }
            #[allow(unreachable_code)]
            if s & WANT != 0 {
                return false;
            }
            match self
                .state
                .compare_exchange_weak(s, s | WANT, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return false,
                Err(now) => s = now,
            }
        }
    }

    /// Whether the queue is full for a producer that sent `sent`, without
    /// asking for a wake-up.
    pub fn full(&self, sent: u64) -> bool {
        sent.wrapping_sub(self.state.load(Ordering::Acquire) >> 1) >= self.cap
    }

    /// Taker, right after each take, with `left` packets still queued:
    /// whether to wake the producer now.
    pub fn taken(&self, left: usize) -> bool {
        let s = self.state.fetch_add(2, Ordering::AcqRel);
        s & WANT != 0
            && left as u64 <= self.cap / 2
            && self.state.fetch_and(!WANT, Ordering::AcqRel) & WANT != 0
    }
}

#[cfg(all(test, not(ustd_loom)))]
mod tests {
    use super::*;

    #[test]
    fn held_back_when_full_and_woken_at_half() {
        let r = Room::new(4);
        assert!((0..4).all(|sent| r.has_room(sent)));
        assert!(!r.has_room(4), "full");
        assert!(r.full(4));
        assert!(!r.taken(3), "three left: more than half");
        assert!(r.taken(2), "half left: wake");
        assert!(!r.taken(1), "woken once");
        assert!(r.has_room(4) && !r.full(4));
    }

    #[test]
    fn no_wake_when_nobody_asked() {
        let r = Room::new(2);
        assert!(r.has_room(0) && r.has_room(1));
        assert!(!r.taken(1) && !r.taken(0));
        assert!(r.has_room(2));
    }
}
