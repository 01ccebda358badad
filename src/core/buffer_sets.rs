//! Who creates and who closes a started session's buffer sets: the
//! protocol of `engine::trace::SessionTrace`, I/O-free and generic over
//! the set, so that the loom model `buffer_sets` runs this very code.
//!
//! * `sets` maps each set key to a slot. Its mutex is held only to find,
//!   insert or remove a slot. A set is created under its slot's own mutex
//!   (in the daemon: memfds, mmap, files, a consumer round trip; never app
//!   I/O), so only callers needing that very set wait for its creation.
//! * `closed`, read and written under `sets`: set by destroy when it lists
//!   the sets it closes. No set is created afterwards, so none outlives
//!   the session.
//! * `closing` is held by whoever closes sets (a per-PID app leaving, on
//!   the reaper; destroy) for the whole close. The one that takes a set out
//!   of `sets` closes it, and destroy returns only after a close under way
//!   finished.
//! * Each set's `pushing` lock is held across every metadata push to the
//!   consumer ([`push`], [`final_push`]): the registry lets a closer return
//!   while another caller's fragment is still in flight; with the lock
//!   held, the closer sends the last fragments itself, and the consumer's
//!   stream is never released under a pending push.

use std::collections::BTreeMap;

use crate::core::metadata::{MetadataError, MetadataRegistry, MetadataSink, PushError};
use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::{lock, Arc, Mutex};

/// A key's slot: locked across the creation of its set.
type Slot<S> = Arc<Mutex<SlotState<S>>>;

enum SlotState<S> {
    /// No set yet (being created under the slot's lock, or never).
    Vacant,
    Ready(Arc<S>),
    /// Taken out by a closer. A creator that found the slot in the map
    /// before the closer removed it must not create a set in it: nobody
    /// would close that set (found by the loom model `buffer_sets`).
    Gone,
}

impl<S> SlotState<S> {
    fn set(&self) -> Option<Arc<S>> {
        match self {
            Self::Ready(s) => Some(s.clone()),
            Self::Vacant | Self::Gone => None,
        }
    }
}

/// A slot was locked: answering would mean waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

#[derive(Debug, thiserror::Error)]
pub enum SetsError<E> {
    #[error("the session's trace is closed")]
    Closed,
    #[error(transparent)]
    Create(E),
}

pub struct BufferSets<K, S> {
    sets: Mutex<BTreeMap<K, Slot<S>>>,
    closing: Mutex<()>,
    closed: AtomicBool,
}

impl<K: Ord + Copy, S> Default for BufferSets<K, S> {
    fn default() -> Self {
        Self {
            sets: Mutex::new(BTreeMap::new()),
            closing: Mutex::new(()),
            closed: AtomicBool::new(false),
        }
    }
}

impl<K: Ord + Copy, S> BufferSets<K, S> {
    /// The set of `key`: `join` runs on it (under its slot's lock) if it
    /// exists; otherwise `create` makes it, for the first caller only.
    /// Refused once destroy listed the sets it closes.
    pub fn get_or_create<E>(
        &self,
        key: K,
        create: impl FnOnce() -> Result<S, E>,
        join: impl FnOnce(&S),
    ) -> Result<Arc<S>, SetsError<E>> {
        let slot = self.slot(key).ok_or(SetsError::Closed)?;
        let mut slot = lock(&slot);
        match &*slot {
            SlotState::Ready(s) => {
                join(s);
                return Ok(s.clone());
            }
            SlotState::Gone => return Err(SetsError::Closed),
            SlotState::Vacant => {}
        }
        let set = Arc::new(create().map_err(SetsError::Create)?);
        *slot = SlotState::Ready(set.clone());
        Ok(set)
    }

    /// `key`'s slot, inserted vacant if missing; `None` once destroy
    /// listed the sets it closes.
    fn slot(&self, key: K) -> Option<Slot<S>> {
        let mut sets = lock(&self.sets);
        // Mutant: creation trusts that the session is alive; a set
        // created after destroy listed the sets is never closed.
        #[cfg(not(ustd_mutant = "create_unchecked"))]
        if self.closed.load(Ordering::Relaxed) {
            return None;
        }
        Some(
            sets.entry(key)
                .or_insert_with(|| Arc::new(Mutex::new(SlotState::Vacant)))
                .clone(),
        )
    }

    /// [`Self::get_or_create`] for a set that exists, without waiting:
    /// `None` when it does not exist, is being created (its slot is
    /// locked) or the session is closing; the caller then takes the path
    /// that may wait. Lets callers on an async worker skip a hop to a
    /// blocking thread in the common case (the set is there).
    pub fn try_join(&self, key: K, join: impl FnOnce(&S)) -> Option<Arc<S>> {
        let slot = {
            let sets = lock(&self.sets);
            if self.closed.load(Ordering::Relaxed) {
                return None;
            }
            sets.get(&key)?.clone()
        };
        let slot = slot.try_lock().ok()?;
        let SlotState::Ready(s) = &*slot else {
            return None;
        };
        join(s);
        Some(s.clone())
    }

    /// What [`Self::existing`] would answer, without waiting: `Err(Busy)`
    /// while the slot is locked (a creation, or a join, under way).
    pub fn peek(&self, key: K) -> Result<Option<Arc<S>>, Busy> {
        let Some(slot) = lock(&self.sets).get(&key).cloned() else {
            return Ok(None);
        };
        let set = slot.try_lock().map_err(|_| Busy)?.set();
        Ok(set)
    }

    /// The set of `key` if it exists (waits for a creation under way on
    /// that slot only).
    pub fn existing(&self, key: K) -> Option<Arc<S>> {
        let slot = lock(&self.sets).get(&key).cloned()?;
        let set = lock(&slot).set();
        set
    }

    /// Every set that exists now, by key.
    pub fn all(&self) -> Vec<(K, Arc<S>)> {
        let slots: Vec<(K, Slot<S>)> = lock(&self.sets)
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        slots
            .into_iter()
            .filter_map(|(k, slot)| lock(&slot).set().map(|s| (k, s)))
            .collect()
    }

    /// Takes a set out for closing: only the caller that takes it closes it.
    fn take(&self, key: K) -> Option<Arc<S>> {
        let slot = lock(&self.sets).remove(&key)?;
        let taken = std::mem::replace(&mut *lock(&slot), SlotState::Gone);
        taken.set()
    }

    /// Closes the set of `key` with `close` (a per-PID app left), unless
    /// destroy took it first: then `None`.
    pub fn close_one<R>(&self, key: K, close: impl FnOnce(Arc<S>) -> R) -> Option<R> {
        let _closing = lock(&self.closing);
        self.take(key).map(close)
    }

    /// Destroy: after a close under way finished, runs `first` (the final
    /// flush), refuses new sets and closes every set with `close`.
    pub fn close_all<E>(
        &self,
        first: impl FnOnce() -> Result<(), E>,
        mut close: impl FnMut(Arc<S>),
    ) -> Result<(), E> {
        // Mutant: destroy does not wait for a close under way (a per-PID
        // app leaving), so it may return before that set is released.
        #[cfg(not(ustd_mutant = "destroy_unserialized"))]
        let _closing = lock(&self.closing);
        first()?;
        let keys: Vec<K> = {
            let sets = lock(&self.sets);
            self.closed.store(true, Ordering::Relaxed);
            sets.keys().copied().collect()
        };
        for set in keys.into_iter().filter_map(|k| self.take(k)) {
            close(set);
        }
        Ok(())
    }
}

/// Pushes what `registry` gained, holding the set's `pushing` lock. A
/// registry already closed has nothing more to say: its closer pushed it.
pub fn push<K: MetadataSink>(
    registry: &MetadataRegistry,
    pushing: &Mutex<()>,
    sink: &mut K,
) -> Result<(), PushError<K::Error>> {
    // Mutant: a push not serialized with the closer's final push, which
    // may then release the stream under this push's fragment.
    #[cfg(not(ustd_mutant = "push_unserialized"))]
    let _pushing = lock(pushing);
    #[cfg(ustd_mutant = "push_unserialized")]
    let _ = pushing;
    match registry.push_all(sink) {
        Ok(_) | Err(PushError::Registry(MetadataError::Closed)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Final push and close of `registry`, holding the set's `pushing` lock:
/// once it returns, no push of the set is in flight, and the caller may
/// release the consumer's stream. Returns whether this call closed it.
pub fn final_push<K: MetadataSink>(
    registry: &MetadataRegistry,
    pushing: &Mutex<()>,
    sink: &mut K,
) -> Result<bool, PushError<K::Error>> {
    let _pushing = lock(pushing);
    registry.final_push_and_close(sink)
}
