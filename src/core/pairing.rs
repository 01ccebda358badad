//! Pairs each app's command and notify sockets by peer-credential pid.
//!
//! An app connects its command socket, sends its registration, then connects
//! its notify socket; but the daemon reads the two registrations on
//! independent tasks, so either may arrive first. Whichever arrives first
//! waits here, under its own deadline, for the other.
//!
//! A pid is the only thing the two sockets have in common, and pids are
//! reused, so each waiting half carries a unique ticket: a deadline expiry
//! withdraws only its own entry, never a newer one with the same pid.
//! A newer half of the same kind and pid replaces the older one (the app
//! reconnected; the old socket is stale) and the older comes back to the
//! caller to be closed.

use std::collections::HashMap;

use crate::sync::{lock, Mutex};
use crate::wire::reg::SocketType;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ticket(u64);

struct Waiting<T> {
    ticket: Ticket,
    kind: SocketType,
    half: T,
}

pub enum Offer<T> {
    /// The counterpart was waiting: here are (cmd, notify).
    Paired { cmd: T, notify: T },
    /// Parked under `ticket`; `replaced` is a stale half of the same kind
    /// and pid that the caller must close.
    Parked { ticket: Ticket, replaced: Option<T> },
}

pub struct Pairing<T> {
    inner: Mutex<PairingInner<T>>,
}

struct PairingInner<T> {
    next_ticket: u64,
    waiting: HashMap<i32, Waiting<T>>,
}

impl<T> Default for Pairing<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Pairing<T> {
    pub fn new() -> Self {
        Self {
            inner: Mutex::new(PairingInner {
                next_ticket: 0,
                waiting: HashMap::new(),
            }),
        }
    }

    /// Offers one half of an app registered by peer pid `pid`.
    pub fn offer(&self, pid: i32, kind: SocketType, half: T) -> Offer<T> {
        let mut g = lock(&self.inner);
        match g.waiting.remove(&pid) {
            Some(w) if w.kind != kind => match kind {
                SocketType::Cmd => Offer::Paired {
                    cmd: half,
                    notify: w.half,
                },
                SocketType::Notify => Offer::Paired {
                    cmd: w.half,
                    notify: half,
                },
            },
            stale => {
                g.next_ticket += 1;
                let ticket = Ticket(g.next_ticket);
                g.waiting.insert(pid, Waiting { ticket, kind, half });
                Offer::Parked {
                    ticket,
                    replaced: stale.map(|w| w.half),
                }
            }
        }
    }

    /// Takes back a parked half whose deadline passed, if it is still
    /// waiting under the same ticket.
    pub fn withdraw(&self, pid: i32, ticket: Ticket) -> Option<T> {
        let mut g = lock(&self.inner);
        match g.waiting.get(&pid) {
            Some(w) if w.ticket == ticket => g.waiting.remove(&pid).map(|w| w.half),
            _ => None,
        }
    }

    /// Drains every waiting half (daemon shutdown).
    pub fn drain(&self) -> Vec<T> {
        lock(&self.inner)
            .waiting
            .drain()
            .map(|(_, w)| w.half)
            .collect()
    }

    pub fn len(&self) -> usize {
        lock(&self.inner).waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(all(test, not(ustd_loom)))]
mod tests {
    use super::*;

    #[test]
    fn pairs_in_either_order() {
        let p = Pairing::new();
        assert!(matches!(
            p.offer(10, SocketType::Cmd, "c"),
            Offer::Parked { replaced: None, .. }
        ));
        match p.offer(10, SocketType::Notify, "n") {
            Offer::Paired { cmd, notify } => assert_eq!((cmd, notify), ("c", "n")),
            _ => panic!("expected a pair"),
        }
        assert!(matches!(
            p.offer(11, SocketType::Notify, "n"),
            Offer::Parked { .. }
        ));
        assert!(matches!(
            p.offer(11, SocketType::Cmd, "c"),
            Offer::Paired {
                cmd: "c",
                notify: "n"
            }
        ));
        assert!(p.is_empty());
    }

    #[test]
    fn newer_half_replaces_stale_one_and_old_ticket_cannot_withdraw_it() {
        let p = Pairing::new();
        let Offer::Parked { ticket: old, .. } = p.offer(7, SocketType::Cmd, "old") else {
            panic!()
        };
        let Offer::Parked {
            ticket: new,
            replaced,
        } = p.offer(7, SocketType::Cmd, "new")
        else {
            panic!()
        };
        assert_eq!(replaced, Some("old"));
        assert_eq!(p.withdraw(7, old), None);
        assert_eq!(p.withdraw(7, new), Some("new"));
    }

    #[test]
    fn different_pids_never_pair() {
        let p = Pairing::new();
        p.offer(1, SocketType::Cmd, "c1");
        assert!(matches!(
            p.offer(2, SocketType::Notify, "n2"),
            Offer::Parked { .. }
        ));
        assert_eq!(p.len(), 2);
        assert_eq!(p.drain().len(), 2);
    }
}
