//! The concurrent map the registry is built on.
//!
//! Normal builds use papaya: lock-free reads, seize-based deferred
//! reclamation, and `remove_if` so a removal takes a specific entry rather
//! than whatever currently holds the key. Values are `Arc`s, so a reader
//! clones out what it found and holds no guard afterwards: no guard ever
//! crosses an `.await` or a socket call.
//!
//! loom cannot see papaya's atomics, so under `cfg(ustd_loom)` the same API is
//! backed by a mutex-protected `BTreeMap` whose iteration takes the lock once
//! per element, resuming after the last key it yielded. That keeps the one
//! property callers must cope with: iteration is weakly consistent (an entry
//! inserted or removed during the walk may or may not be seen, but each entry
//! seen is seen whole). A `BTreeMap` rather than a `HashMap` because loom
//! replays executions and needs them deterministic: no random hash seeds.

use std::hash::Hash;

use crate::sync::Arc;

pub struct ConcurrentMap<K, V> {
    #[cfg(not(ustd_loom))]
    inner: papaya::HashMap<K, Arc<V>>,
    #[cfg(ustd_loom)]
    inner: crate::sync::Mutex<std::collections::BTreeMap<K, Arc<V>>>,
}

impl<K, V> Default for ConcurrentMap<K, V>
where
    K: Hash + Ord + Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V> ConcurrentMap<K, V>
where
    K: Hash + Ord + Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    pub fn new() -> Self {
        #[cfg(not(ustd_loom))]
        let inner = papaya::HashMap::new();
        #[cfg(ustd_loom)]
        let inner = crate::sync::Mutex::new(std::collections::BTreeMap::new());
        Self { inner }
    }

    /// The current value for `key`, as a counted reference the caller owns.
    pub fn get(&self, key: &K) -> Option<Arc<V>> {
        #[cfg(not(ustd_loom))]
        {
            self.inner.pin().get(key).cloned()
        }
        #[cfg(ustd_loom)]
        {
            crate::sync::lock(&self.inner).get(key).cloned()
        }
    }

    /// Inserts only if `key` is vacant; on conflict the value comes back.
    pub fn insert_unique(&self, key: K, value: Arc<V>) -> Result<(), Arc<V>> {
        #[cfg(not(ustd_loom))]
        {
            self.inner
                .pin()
                .try_insert(key, value)
                .map(|_| ())
                .map_err(|e| e.not_inserted)
        }
        #[cfg(ustd_loom)]
        {
            let mut m = crate::sync::lock(&self.inner);
            if m.contains_key(&key) {
                return Err(value);
            }
            m.insert(key, value);
            Ok(())
        }
    }

    /// Inserts, replacing whatever `key` held (used only by the pid index,
    /// where the newest registration of a pid wins).
    pub fn insert_replace(&self, key: K, value: Arc<V>) {
        #[cfg(not(ustd_loom))]
        {
            self.inner.pin().insert(key, value);
        }
        #[cfg(ustd_loom)]
        {
            crate::sync::lock(&self.inner).insert(key, value);
        }
    }

    /// Removes `key` only if it still maps to exactly `value` (pointer
    /// identity). Returns whether it did.
    pub fn remove_if_same(&self, key: &K, value: &Arc<V>) -> bool {
        #[cfg(not(ustd_loom))]
        {
            matches!(
                self.inner
                    .pin()
                    .remove_if(key, |_, v| Arc::ptr_eq(v, value)),
                Ok(Some(_))
            )
        }
        #[cfg(ustd_loom)]
        {
            let mut m = crate::sync::lock(&self.inner);
            match m.get(key) {
                Some(v) if Arc::ptr_eq(v, value) => {
                    m.remove(key);
                    true
                }
                _ => false,
            }
        }
    }

    /// A weakly consistent snapshot of the values.
    pub fn values(&self) -> Vec<Arc<V>> {
        #[cfg(not(ustd_loom))]
        {
            self.inner.pin().values().cloned().collect()
        }
        #[cfg(ustd_loom)]
        {
            // One element per critical section, so other threads interleave
            // with the walk as they can with papaya's iterator: an entry
            // inserted ahead of the cursor is seen, one behind it is not.
            use std::ops::Bound;
            let mut out = Vec::new();
            let mut cursor: Option<K> = None;
            loop {
                let m = crate::sync::lock(&self.inner);
                let next = match &cursor {
                    None => m.iter().next(),
                    Some(k) => m.range((Bound::Excluded(k), Bound::Unbounded)).next(),
                };
                let Some((k, v)) = next else { break };
                out.push(v.clone());
                cursor = Some(k.clone());
            }
            out
        }
    }

    pub fn len(&self) -> usize {
        #[cfg(not(ustd_loom))]
        {
            self.inner.len()
        }
        #[cfg(ustd_loom)]
        {
            crate::sync::lock(&self.inner).len()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
