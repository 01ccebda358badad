//! File-descriptor accounting. Each app costs a known number of fds; past
//! the budget new apps are refused with a logged reason rather than letting
//! `accept` or `socket` fail somewhere deep in the daemon.

use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::Arc;

#[derive(Debug)]
pub struct FdBudget {
    // Behind its own `Arc` so permits can share it through `&self`: loom's
    // `Arc` cannot be a method receiver (`self: &Arc<Self>`).
    counter: Arc<Counter>,
}

#[derive(Debug)]
struct Counter {
    limit: usize,
    used: AtomicUsize,
}

/// Returns its fds to the budget when dropped (i.e. when the sockets it
/// accounts for are closed).
#[derive(Debug)]
pub struct FdPermit {
    counter: Arc<Counter>,
    n: usize,
}

impl FdBudget {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            counter: Arc::new(Counter {
                limit,
                used: AtomicUsize::new(0),
            }),
        })
    }

    pub fn try_acquire(&self, n: usize) -> Option<FdPermit> {
        let c = &self.counter;
        let mut cur = c.used.load(Ordering::Relaxed);
        loop {
            if cur + n > c.limit {
                return None;
            }
            match c
                .used
                .compare_exchange_weak(cur, cur + n, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    return Some(FdPermit {
                        counter: c.clone(),
                        n,
                    })
                }
                Err(actual) => cur = actual,
            }
        }
    }

    pub fn used(&self) -> usize {
        self.counter.used.load(Ordering::Relaxed)
    }

    pub fn limit(&self) -> usize {
        self.counter.limit
    }
}

impl Drop for FdPermit {
    fn drop(&mut self) {
        self.counter.used.fetch_sub(self.n, Ordering::AcqRel);
    }
}

#[cfg(all(test, not(ustd_loom)))]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_limit_and_returns_on_drop() {
        let b = FdBudget::new(3);
        let p1 = b.try_acquire(2).unwrap();
        assert!(b.try_acquire(2).is_none());
        let p2 = b.try_acquire(1).unwrap();
        assert_eq!(b.used(), 3);
        drop(p1);
        assert_eq!(b.used(), 1);
        drop(p2);
        assert_eq!(b.used(), 0);
    }
}
