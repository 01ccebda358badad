//! Synchronisation facade: std types in normal builds, loom's under
//! `--cfg ustd_loom`, so the loom models in `loom-tests/` run the very code
//! the daemon runs.
//!
//! Everything in `core` that is shared between threads must come from here,
//! never from `std::sync` directly: a type loom cannot see is a race loom
//! cannot find.

#[cfg(ustd_loom)]
pub use loom::sync::{atomic, mpsc, Arc, Mutex, MutexGuard};
#[cfg(ustd_loom)]
pub use loom::thread;

#[cfg(not(ustd_loom))]
pub use std::sync::{atomic, mpsc, Arc, Mutex, MutexGuard};
#[cfg(not(ustd_loom))]
pub use std::thread;

/// Locks a mutex, treating poisoning as recoverable: every critical section in
/// `core` leaves its data consistent before anything that could panic.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(ustd_loom)]
    {
        m.lock().expect("loom mutexes are never poisoned")
    }
    #[cfg(not(ustd_loom))]
    {
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
