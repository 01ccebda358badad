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

//!
//! One `cfg` switch picks the backend module; both have the same API.

#[cfg(ustd_loom)]
mod btree_backend;
#[cfg(not(ustd_loom))]
mod papaya_backend;

#[cfg(ustd_loom)]
pub use btree_backend::ConcurrentMap;
#[cfg(not(ustd_loom))]
pub use papaya_backend::ConcurrentMap;
