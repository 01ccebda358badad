//! The session's side of its rotation schedules (`enable-rotation`): what
//! the consumer thread counts for the size schedule, and the room of the
//! per-session task that rotates on schedule (`command::schedule`).
//!
//! The consumer only adds the bytes of each packet it wrote and, once the
//! count reaches the armed threshold, wakes the task (a `Notify` permit:
//! no lock, no rotation from its write path). The task re-checks the
//! threshold itself (`core::rotation::SizeTrigger`), so a wake-up is a
//! hint, never a rotation by itself.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::sync::{lock, Mutex};

/// Data bytes a session's consumer wrote (every chunk, every stream).
#[derive(Default)]
pub struct SizeWatch {
    consumed: AtomicU64,
    /// The next size rotation's threshold; 0 when no size schedule is set.
    threshold: AtomicU64,
    crossed: Notify,
}

impl SizeWatch {
    /// The consumer thread wrote `n` more bytes.
    pub(crate) fn add(&self, n: u64) {
        let total = self.consumed.fetch_add(n, Ordering::Relaxed) + n;
        let t = self.threshold.load(Ordering::Relaxed);
        if t != 0 && total >= t {
            self.crossed.notify_one();
        }
    }

    pub fn consumed(&self) -> u64 {
        self.consumed.load(Ordering::Relaxed)
    }

    /// Arms the wake-up at `threshold` (None: no size schedule).
    pub(crate) fn arm(&self, threshold: Option<u64>) {
        self.threshold
            .store(threshold.unwrap_or(0), Ordering::Relaxed);
        // Bytes written before the store are not missed.
        if threshold.is_some_and(|t| self.consumed() >= t) {
            self.crossed.notify_one();
        }
    }

    /// Resolves once the count may have reached the threshold.
    pub(crate) async fn crossed(&self) {
        self.crossed.notified().await
    }
}

/// The schedule task of a session's trace: told when the schedules change,
/// stopped (and awaited) before the trace is destroyed.
#[derive(Default)]
pub struct ScheduleRoom {
    pub(crate) changed: Notify,
    stop: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl ScheduleRoom {
    pub(crate) fn stopping(&self) -> &CancellationToken {
        &self.stop
    }

    pub(crate) fn run(&self, task: JoinHandle<()>) {
        *lock(&self.task) = Some(task);
    }

    /// Ends the task; returns once a rotation it had started is finished
    /// (so destroy archives the last chunk after it).
    pub async fn stop(&self) {
        self.stop.cancel();
        let task = lock(&self.task).take();
        if let Some(t) = task {
            let _ = t.await;
        }
    }
}
