//! papaya backend of [`super::ConcurrentMap`] (normal builds).

use std::hash::Hash;

use crate::sync::Arc;

pub struct ConcurrentMap<K, V> {
    inner: papaya::HashMap<K, Arc<V>>,
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
            inner: papaya::HashMap::new(),
        }
    }

    /// The current value for `key`, as a counted reference the caller owns.
    pub fn get(&self, key: &K) -> Option<Arc<V>> {
        self.inner.pin().get(key).cloned()
    }

    /// Inserts only if `key` is vacant; on conflict the value comes back.
    pub fn insert_unique(&self, key: K, value: Arc<V>) -> Result<(), Arc<V>> {
        self.inner
            .pin()
            .try_insert(key, value)
            .map(|_| ())
            .map_err(|e| e.not_inserted)
    }

    /// Inserts, replacing whatever `key` held (used only by the pid index,
    /// where the newest registration of a pid wins).
    pub fn insert_replace(&self, key: K, value: Arc<V>) {
        self.inner.pin().insert(key, value);
    }

    /// Removes `key` only if it still maps to exactly `value` (pointer
    /// identity). Returns whether it did.
    pub fn remove_if_same(&self, key: &K, value: &Arc<V>) -> bool {
        matches!(
            self.inner
                .pin()
                .remove_if(key, |_, v| Arc::ptr_eq(v, value)),
            Ok(Some(_))
        )
    }

    /// A weakly consistent snapshot of the values.
    pub fn values(&self) -> Vec<Arc<V>> {
        self.inner.pin().values().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.inner.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
