//! File-descriptor accounting. Every fd the daemon opens beyond its fixed
//! reserve is paid for here first: app sockets, each session's consumer,
//! each buffer set and channel, and the transient copies of the buffer fds
//! handed to an app. Past the budget, new apps are refused with a logged
//! reason (they retry), and a hand-out waits for budget instead of letting
//! `dup` fail with EMFILE somewhere deep in the daemon.
//!
//! Built on tokio's semaphore, which is runtime-independent and first come,
//! first served: released fds go to queued waiters before any `try_acquire`,
//! so apps registering meanwhile cannot starve a fan-out, and a large
//! request at the head is never overtaken by smaller ones. (Not loom-modelled:
//! it holds no state of ours beyond the semaphore.)

use std::sync::Arc as StdArc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::sync::Arc;

#[derive(Debug)]
pub struct FdBudget {
    limit: usize,
    sem: StdArc<Semaphore>,
}

/// Returns its fds to the budget when dropped (i.e. when the fds it
/// accounts for are closed). Keep it next to what it pays for.
#[derive(Debug)]
pub struct FdPermit(OwnedSemaphorePermit);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{need} fds asked for, more than the whole fd budget ({limit})")]
pub struct TooLarge {
    pub need: usize,
    pub limit: usize,
}

/// What a data channel of `streams` streams costs the daemon, by owner.
pub mod cost {
    /// A session's consumer: its epoll fd and wake-up eventfd.
    pub const CONSUMER: usize = 2;
    /// A buffer set: the metadata ring buffer (memfd, its stream's wake-up
    /// pipe, the channel's wake-up pipe) and the `metadata` file.
    pub const SET: usize = 6;

    /// What one app receives for a channel, duplicated for it and closed
    /// once sent: the channel wake-up fd, then shm + wake-up per stream.
    pub const fn hand_out(streams: usize) -> usize {
        1 + 2 * streams
    }

    /// A channel's buffers, kept while the set lives: per stream its memfd,
    /// wake-up pipe (2), data and index files; the end of the channel's
    /// wake-up pipe the library keeps; the master copy of the hand-out;
    /// plus, while it is built, a socket pair and the two fds of one object
    /// in transit. (Measured: a set with one 2-stream channel adds 22 fds
    /// to the daemon's /proc/PID/fd, as SET + channel(2) - CHANNEL_BUILD.)
    pub const fn channel(streams: usize) -> usize {
        5 * streams + 1 + hand_out(streams) + CHANNEL_BUILD
    }

    /// Transient during a channel's creation (see [`channel`]).
    pub const CHANNEL_BUILD: usize = 4;
}

impl FdBudget {
    pub fn new(limit: usize) -> Arc<Self> {
        let limit = limit.min(Semaphore::MAX_PERMITS);
        Arc::new(Self {
            limit,
            sem: StdArc::new(Semaphore::new(limit)),
        })
    }

    /// `n` fds now, or `None` without waiting.
    pub fn try_acquire(&self, n: usize) -> Option<FdPermit> {
        let n = u32::try_from(n).ok()?;
        self.sem
            .clone()
            .try_acquire_many_owned(n)
            .ok()
            .map(FdPermit)
    }

    /// `n` fds at once, waiting in line for them (callers bound the wait).
    /// A request above the whole budget can never be met: refused at once.
    pub async fn acquire(&self, n: usize) -> Result<FdPermit, TooLarge> {
        let too_large = TooLarge {
            need: n,
            limit: self.limit,
        };
        if n > self.limit {
            return Err(too_large);
        }
        let n32 = u32::try_from(n).map_err(|_| too_large)?;
        let permit = self.sem.clone().acquire_many_owned(n32).await;
        // The semaphore is never closed.
        Ok(FdPermit(
            permit.expect("the fd budget's semaphore is never closed"),
        ))
    }

    pub fn used(&self) -> usize {
        self.limit - self.sem.available_permits()
    }

    pub fn limit(&self) -> usize {
        self.limit
    }
}

impl FdPermit {
    /// Splits `n` fds off into a permit of their own (for a longer-lived
    /// owner); `None` if this one holds fewer.
    pub fn split(&mut self, n: usize) -> Option<FdPermit> {
        self.0.split(n).map(FdPermit)
    }

    pub fn fds(&self) -> usize {
        self.0.num_permits()
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

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_waiter_gets_released_fds_before_try_acquire_and_splits_them() {
        let b = FdBudget::new(5);
        let held = b.try_acquire(4).unwrap();
        block_on(async {
            let waiter = {
                let b = &b;
                async move { b.acquire(3).await }
            };
            tokio::pin!(waiter);
            // Queued: not enough yet.
            assert!(futures_poll_once(waiter.as_mut()).await.is_none());
            drop(held);
            // Released fds go to the queued waiter first.
            assert!(b.try_acquire(3).is_none());
            let mut p = waiter.await.unwrap();
            assert_eq!(b.used(), 3);
            let kept = p.split(2).unwrap();
            assert!(p.split(2).is_none());
            drop(p);
            assert_eq!((kept.fds(), b.used()), (2, 2));
        });
    }

    #[test]
    fn a_request_above_the_budget_is_refused_not_queued() {
        let b = FdBudget::new(4);
        assert_eq!(
            block_on(b.acquire(5)).unwrap_err(),
            TooLarge { need: 5, limit: 4 }
        );
    }

    /// Polls once; `None` if pending.
    async fn futures_poll_once<F: std::future::Future + Unpin>(f: F) -> Option<F::Output> {
        let mut f = f;
        std::future::poll_fn(|cx| {
            std::task::Poll::Ready(match std::pin::Pin::new(&mut f).poll(cx) {
                std::task::Poll::Ready(v) => Some(v),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }
}
