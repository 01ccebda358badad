//! Model 7: an app's job queue closing (its actor ended) while commands
//! queue jobs for it, on ustd's own `core::job_queue::Jobs`.
#![cfg(ustd_loom)]

use std::sync::atomic::{AtomicUsize, Ordering};

use loom::thread;
use ustd::core::job_queue::{Jobs, SendError};
use ustd::sync::{lock, Arc, Mutex};
use ustd_loom_tests::without_mutants;

/// Coverage, across executions: a job the actor ran; a queued job the close
/// dropped (answered "app disconnected"); a send refused because the queue
/// was closed.
static RAN: AtomicUsize = AtomicUsize::new(0);
static DROPPED_BY_CLOSE: AtomicUsize = AtomicUsize::new(0);
static REFUSED_CLOSED: AtomicUsize = AtomicUsize::new(0);

const STRANDED: &str = "a queued job was neither run nor answered";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Ran,
    Disconnected,
}

type Answers = Arc<Mutex<Vec<(usize, Answer)>>>;

/// A job with its requester's end: answered when run, or "app
/// disconnected" when dropped unrun (as `AppJob`'s oneshot senders are).
struct Job {
    id: usize,
    ran: bool,
    answers: Answers,
}

impl Job {
    fn run(mut self) {
        self.ran = true;
        lock(&self.answers).push((self.id, Answer::Ran));
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        if !self.ran {
            lock(&self.answers).push((self.id, Answer::Disconnected));
        }
    }
}

/// An app's queue (bound 16, as the daemon's) with one job queued. Racing:
///
/// - *sender 1*, *sender 2*: two commands each queue a job for the app (a
///   fan-out's sync, a listing), without waiting;
/// - *actor*: the app's command actor runs the next job, then its socket
///   hangs up: it ends, and dropping its receiver closes the queue and
///   drops what is queued (outside the lock, as `io::job_queue` does).
///
/// Invariant, once every thread is done (the queue itself still alive, as
/// while a requester holds the app's lease): every job is answered exactly
/// once, run or "app disconnected", and a job refused by the queue is
/// answered "app disconnected": no requester waits for a job stranded in a
/// queue nobody reads.
fn close_vs_enqueue() {
    let queue = Arc::new(Jobs::new(16));
    let answers = Answers::default();
    let job = |id| Job {
        id,
        ran: false,
        answers: answers.clone(),
    };
    assert!(queue.push(job(0)).is_ok(), "an open queue has room");

    // Senders first, actor last: loom's first schedule (no preemption)
    // queues both jobs before the close, so a mutant needs a real
    // interleaving to show.
    let senders: Vec<_> = [1, 2]
        .into_iter()
        .map(|id| {
            let (queue, job) = (queue.clone(), job(id));
            thread::spawn(move || {
                if let Err((why, job)) = queue.push(job) {
                    assert_eq!(why, SendError::Closed, "the queue has room for every job");
                    REFUSED_CLOSED.fetch_add(1, Ordering::Relaxed);
                    drop(job);
                }
            })
        })
        .collect();
    let actor = {
        let queue = queue.clone();
        thread::spawn(move || {
            if let Some(job) = queue.pop() {
                RAN.fetch_add(1, Ordering::Relaxed);
                job.run();
            }
            let queued = queue.close();
            DROPPED_BY_CLOSE.fetch_add(queued.len(), Ordering::Relaxed);
            drop(queued);
        })
    };
    for t in senders {
        t.join().expect("model thread panicked");
    }
    actor.join().expect("model thread panicked");

    let answers = lock(&answers).clone();
    for id in 0..3 {
        let n = answers.iter().filter(|(j, _)| *j == id).count();
        assert!(n > 0, "{STRANDED}: job {id} ({answers:?})");
        assert_eq!(n, 1, "job {id} answered twice: {answers:?}");
    }
    drop(queue);
}

without_mutants! {
    #[test]
    fn model_close_vs_enqueue() {
        ustd_loom_tests::explore("job queue close vs enqueue", close_vs_enqueue);
        for (what, n) in [
            ("no job ran", &RAN),
            ("the close never dropped a queued job", &DROPPED_BY_CLOSE),
            ("no send was refused by a closed queue", &REFUSED_CLOSED),
        ] {
            assert!(n.load(Ordering::Relaxed) > 0, "{what}");
        }
    }
}

/// Mutant `close_drain_first`: close takes the queued jobs out, then marks
/// the queue closed in a second critical section; a job queued in between
/// stays in a queue nobody reads.
#[cfg(ustd_mutant = "close_drain_first")]
#[test]
fn mutant_close_drain_first_is_caught() {
    ustd_loom_tests::expect_failure("job queue close vs enqueue", &[STRANDED], close_vs_enqueue);
}
