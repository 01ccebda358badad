//! The state of an app's bounded job queue (`io::job_queue` adds the
//! wake-ups): jobs in order, a bound, and a close that refuses every later
//! job and hands back the queued ones.
//!
//! Close vs enqueue: `closed` is set in the same critical section that
//! takes the queued jobs out, so a job is either in what `close` returned
//! (its requester is answered "app disconnected" when the caller drops it)
//! or refused: none is accepted after the drain and stranded in a queue
//! nobody reads. Checked by the loom model `job_queue`.

use std::collections::VecDeque;

use crate::sync::{lock, Mutex};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SendError {
    #[error("app disconnected")]
    Closed,
    #[error("job queue full")]
    Full,
}

struct State<J> {
    jobs: VecDeque<J>,
    closed: bool,
}

pub struct Jobs<J> {
    state: Mutex<State<J>>,
    bound: usize,
}

impl<J> Jobs<J> {
    /// An open, empty queue holding at most `bound` jobs. Allocates nothing
    /// until the first job.
    pub fn new(bound: usize) -> Self {
        Self {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                closed: false,
            }),
            bound,
        }
    }

    /// Queues `job`, or hands it back with why not.
    pub fn push(&self, job: J) -> Result<(), (SendError, J)> {
        let mut s = lock(&self.state);
        if s.closed {
            return Err((SendError::Closed, job));
        }
        if s.jobs.len() >= self.bound {
            return Err((SendError::Full, job));
        }
        s.jobs.push_back(job);
        Ok(())
    }

    /// The oldest job, if any (for the queue's one consumer).
    pub fn pop(&self) -> Option<J> {
        lock(&self.state).jobs.pop_front()
    }

    /// Refuses every later job; returns the queued ones, for the caller to
    /// drop outside the lock (dropping a job answers its requester).
    pub fn close(&self) -> VecDeque<J> {
        // Mutant: the drain and the refusal in two critical sections; a job
        // queued in between is never run nor dropped.
        #[cfg(ustd_mutant = "close_drain_first")]
        {
            let queued = std::mem::take(&mut lock(&self.state).jobs);
            lock(&self.state).closed = true;
            queued
        }
        #[cfg(not(ustd_mutant = "close_drain_first"))]
        {
            let mut s = lock(&self.state);
            s.closed = true;
            std::mem::take(&mut s.jobs)
        }
    }
}
