//! The bounded job queue in front of each app's command actor.
//!
//! A locked deque with two wake-ups rather than a tokio channel: there is one
//! queue per registered app and it is nearly always empty, and an empty deque
//! allocates nothing, while a bounded tokio channel allocates its shared state
//! and a first block of 32 slots up front (about 750 bytes per app, measured
//! with heaptrack at 2,000 apps).
//!
//! Semantics are those of the channel it replaces: senders wait while the
//! queue is full; once the actor is gone (`io::app_conn::JobReceiver` dropped) every
//! queued job is dropped (its requester sees the app as disconnected) and
//! every later send fails. The queue's state and its close are
//! `core::job_queue` (loom-checked); this adds the wake-ups.

use tokio::sync::Notify;

use crate::command::reply::TracepointInfo;
use crate::core::job_queue::Jobs;
pub use crate::core::job_queue::SendError;

/// Most jobs queued per app; a fan-out waits while an app's queue is full.
pub const JOB_QUEUE: usize = 16;

/// Why an app did not carry a job out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobError {
    /// The app is gone (it exited, was killed, or its actor has ended):
    /// nothing is left to configure, so this is not a failure of the command.
    pub gone: bool,
    pub reason: String,
}

impl JobError {
    pub fn gone(reason: impl Into<String>) -> Self {
        Self {
            gone: true,
            reason: reason.into(),
        }
    }

    pub fn failed(reason: impl Into<String>) -> Self {
        Self {
            gone: false,
            reason: reason.into(),
        }
    }
}

/// Where a job's outcome goes.
pub type Done<T> = tokio::sync::oneshot::Sender<Result<T, JobError>>;

/// A request for the app's command actor, answered on `done`.
pub enum AppJob {
    /// Bring the app in line with every session's current configuration.
    Sync { done: Done<()> },
    /// Release a destroyed session's objects in the app.
    Forget { session_id: u64, done: Done<()> },
    /// Ask the app for its statedump in a started session (`lttng
    /// regenerate statedump`); nothing if the app is not in it.
    Statedump { session_id: u64, done: Done<()> },
    /// List the app's tracepoints (and their fields).
    ListTracepoints {
        fields: bool,
        done: Done<Vec<TracepointInfo>>,
    },
}

pub struct JobQueue {
    jobs: Jobs<Box<AppJob>>,
    /// Wakes the actor: a job arrived or the queue closed.
    arrived: Notify,
    /// Wakes senders waiting for room (or for the close).
    room: Notify,
}

impl Default for JobQueue {
    fn default() -> Self {
        Self {
            jobs: Jobs::new(JOB_QUEUE),
            arrived: Notify::new(),
            room: Notify::new(),
        }
    }
}

impl JobQueue {
    fn try_push(&self, job: Box<AppJob>) -> Result<(), (SendError, Box<AppJob>)> {
        self.jobs.push(job)?;
        self.arrived.notify_one();
        Ok(())
    }

    /// Queues a job without waiting.
    pub fn try_send(&self, job: Box<AppJob>) -> Result<(), SendError> {
        self.try_push(job).map_err(|(e, _)| e)
    }

    /// Queues a job, waiting while the queue is full.
    pub async fn send(&self, mut job: Box<AppJob>) -> Result<(), SendError> {
        loop {
            // Registered before the check, so room made in between is not missed.
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            match self.try_push(job) {
                Ok(()) => return Ok(()),
                Err((SendError::Full, back)) => job = back,
                Err((e, _)) => return Err(e),
            }
            room.await;
        }
    }

    /// The next job, in order (for the queue's one consumer).
    pub async fn recv(&self) -> Box<AppJob> {
        loop {
            // A notify_one before this wait leaves a permit: no lost wake-up.
            if let Some(job) = self.jobs.pop() {
                self.room.notify_one();
                return job;
            }
            self.arrived.notified().await;
        }
    }

    /// Refuses further jobs and drops the queued ones.
    pub fn close(&self) {
        // Outside the lock: dropping a job answers its requester.
        drop(self.jobs.close());
        self.room.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};
    use tokio::sync::oneshot;

    fn job() -> (Box<AppJob>, oneshot::Receiver<Result<(), JobError>>) {
        let (done, rx) = oneshot::channel();
        (Box::new(AppJob::Sync { done }), rx)
    }

    struct NoWake;
    impl std::task::Wake for NoWake {
        fn wake(self: std::sync::Arc<Self>) {}
    }

    fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        let waker = Waker::from(std::sync::Arc::new(NoWake));
        f.poll(&mut Context::from_waker(&waker))
    }

    #[tokio::test]
    async fn jobs_come_out_in_order_and_a_full_queue_makes_senders_wait() {
        let q = JobQueue::default();
        let mut answers = Vec::new();
        for _ in 0..JOB_QUEUE {
            let (j, rx) = job();
            q.send(j).await.expect("room");
            answers.push(rx);
        }
        let (extra, extra_rx) = job();
        assert!(matches!(q.try_send(extra), Err(SendError::Full)));
        let (waiting, _waiting_rx) = job();
        let mut send = pin!(q.send(waiting));
        assert!(
            poll_once(send.as_mut()).is_pending(),
            "a full queue must not accept"
        );
        drop(extra_rx);

        // Jobs leave in order: answering the first reaches the first requester.
        let AppJob::Sync { done } = *q.recv().await else {
            panic!("queued a Sync job")
        };
        done.send(Ok(())).expect("requester waits");
        assert_eq!(answers.remove(0).await, Ok(Ok(())));
        assert!(matches!(poll_once(send.as_mut()), Poll::Ready(Ok(()))));
    }

    #[tokio::test]
    async fn closing_drops_queued_jobs_and_refuses_waiting_and_later_senders() {
        let q = JobQueue::default();
        let mut answers = Vec::new();
        for _ in 0..JOB_QUEUE {
            let (j, rx) = job();
            q.try_send(j).expect("room");
            answers.push(rx);
        }
        let (waiting, _rx) = job();
        let mut send = pin!(q.send(waiting));
        assert!(poll_once(send.as_mut()).is_pending());
        q.close();
        for rx in answers {
            assert!(rx.await.is_err(), "a dropped job tells its requester");
        }
        assert!(matches!(
            poll_once(send.as_mut()),
            Poll::Ready(Err(SendError::Closed))
        ));
        let (later, _rx) = job();
        assert!(matches!(q.send(later).await, Err(SendError::Closed)));
    }

    #[tokio::test]
    async fn the_consumer_wakes_for_a_job_sent_while_it_waits() {
        let q = std::sync::Arc::new(JobQueue::default());
        let consumer = tokio::spawn({
            let q = q.clone();
            async move { matches!(*q.recv().await, AppJob::Sync { .. }) }
        });
        tokio::task::yield_now().await;
        let (j, _rx) = job();
        q.send(j).await.expect("room");
        assert!(consumer.await.expect("consumer ran"));
    }
}
