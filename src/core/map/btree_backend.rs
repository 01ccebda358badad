//! loom backend of [`super::ConcurrentMap`]: a loom mutex around a
//! `BTreeMap`, iterated one element per critical section.

use std::collections::BTreeMap;
use std::hash::Hash;

use crate::sync::{lock, Arc, Mutex};

pub struct ConcurrentMap<K, V> {
    inner: Mutex<BTreeMap<K, Arc<V>>>,
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
        Self {
            inner: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn get(&self, key: &K) -> Option<Arc<V>> {
        lock(&self.inner).get(key).cloned()
    }

    pub fn insert_unique(&self, key: K, value: Arc<V>) -> Result<(), Arc<V>> {
        let mut m = lock(&self.inner);
        if m.contains_key(&key) {
            return Err(value);
        }
        m.insert(key, value);
        Ok(())
    }

    pub fn insert_replace(&self, key: K, value: Arc<V>) {
        lock(&self.inner).insert(key, value);
    }

    pub fn remove_if_same(&self, key: &K, value: &Arc<V>) -> bool {
        let mut m = lock(&self.inner);
        match m.get(key) {
            Some(v) if Arc::ptr_eq(v, value) => {
                m.remove(key);
                true
            }
            _ => false,
        }
    }

    pub fn values(&self) -> Vec<Arc<V>> {
        // One element per critical section, so other threads interleave
        // with the walk as they can with papaya's iterator: an entry
        // inserted ahead of the cursor is seen, one behind it is not.
        use std::ops::Bound;
        let mut out = Vec::new();
        let mut cursor: Option<K> = None;
        loop {
            let m = lock(&self.inner);
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

    pub fn len(&self) -> usize {
        lock(&self.inner).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
