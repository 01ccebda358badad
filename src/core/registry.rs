//! The app registry: the Rust counterpart of lttng-sessiond's `ust_app`
//! tables, keyed by a daemon-assigned id.
//!
//! # Indexes
//!
//! | map            | key                    | insert          | remove            |
//! |----------------|------------------------|-----------------|-------------------|
//! | `by_id`        | [`AppId`]              | unique          | if same `Arc`     |
//! | `by_cmd_sock`  | cmd socket fd number   | unique          | if same `Arc`     |
//! | `by_notify`    | notify socket fd number| unique          | if same `Arc`     |
//! | `by_pid`       | peer pid               | replace (newest)| if same `Arc`     |
//!
//! Socket keys are unique because an fd number is only reused once the
//! socket is closed, and an app's sockets are closed by the reaper after the
//! app has left every map and its last lease is gone.
//!
//! Pids are reused. The pid index holds the *newest* registration of a pid:
//! a new process with a recycled pid replaces the entry, and the old app's
//! teardown then removes nothing from `by_pid` because it only removes the
//! entry if it is still its own. Nothing but display and `lookup_by_pid`
//! uses the pid index; every operation on an app goes through its `AppId` or
//! its `Arc`.
//!
//! # Protocol
//!
//! 1. **Publication.** [`AppRegistry::publish`] inserts into every map, then
//!    CASes `Registering -> Live`. Readers only return `Live` apps, so no
//!    reader sees an app whose setup is incomplete. If a teardown won the
//!    race (the app hung up during its handshake), publish unlinks what it
//!    inserted and reports failure.
//! 2. **Teardown.** [`AppRegistry::unregister`] swaps the state to `Dying`
//!    (exactly one caller wins), removes the app from every map by pointer
//!    identity, then drops the daemon's lease. Resources reach the reaper
//!    when the last other lease ends.
//! 3. **Reads** never block: they clone an `Arc` out of papaya and filter on
//!    state.

use crate::core::app::{App, AppId, AppState, Lease};
use crate::core::map::ConcurrentMap;
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::Arc;

pub struct AppRegistry<C: Send + Sync + 'static> {
    next_id: AtomicU64,
    by_id: ConcurrentMap<AppId, App<C>>,
    by_cmd_sock: ConcurrentMap<i32, App<C>>,
    by_notify: ConcurrentMap<i32, App<C>>,
    by_pid: ConcurrentMap<i32, App<C>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PublishError {
    #[error("app hung up during its registration")]
    TornDown,
    #[error("socket key {0} is already registered (fd reuse before close?)")]
    KeyInUse(i32),
}

impl<C: Send + Sync + 'static> Default for AppRegistry<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Send + Sync + 'static> AppRegistry<C> {
    pub fn new() -> Self {
        Self {
            next_id: AtomicU64::new(1),
            by_id: ConcurrentMap::new(),
            by_cmd_sock: ConcurrentMap::new(),
            by_notify: ConcurrentMap::new(),
            by_pid: ConcurrentMap::new(),
        }
    }

    pub fn allocate_id(&self) -> AppId {
        AppId(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Makes a fully set-up app visible to readers (see the module protocol).
    pub fn publish(&self, app: &Arc<App<C>>) -> Result<(), PublishError> {
        // Mutant: the historical bug of making the app visible before its
        // setup (here, its last index entries) is complete.
        #[cfg(ustd_mutant = "publish_early")]
        let went_live = app.mark_live();

        if let Err(e) = self.link(app) {
            self.unlink(app);
            return Err(e);
        }
        #[cfg(not(ustd_mutant = "publish_early"))]
        let went_live = app.mark_live();
        if went_live {
            return Ok(());
        }
        // A teardown ran between our inserts and the CAS. It may have
        // unlinked before we linked, so unlink again ourselves.
        self.unlink(app);
        Err(PublishError::TornDown)
    }

    fn link(&self, app: &Arc<App<C>>) -> Result<(), PublishError> {
        let info = &app.info;
        self.by_id
            .insert_unique(app.id, app.clone())
            .map_err(|_| PublishError::KeyInUse(-1))?;
        self.by_cmd_sock
            .insert_unique(info.cmd_key, app.clone())
            .map_err(|_| PublishError::KeyInUse(info.cmd_key))?;
        self.by_notify
            .insert_unique(info.notify_key, app.clone())
            .map_err(|_| PublishError::KeyInUse(info.notify_key))?;
        self.by_pid.insert_replace(info.creds.pid, app.clone());
        Ok(())
    }

    fn unlink(&self, app: &Arc<App<C>>) {
        let info = &app.info;
        self.by_id.remove_if_same(&app.id, app);
        self.by_cmd_sock.remove_if_same(&info.cmd_key, app);
        self.by_notify.remove_if_same(&info.notify_key, app);
        self.by_pid.remove_if_same(&info.creds.pid, app);
    }

    /// Starts the teardown of `app`. Returns `true` for the one caller that
    /// performed it; later callers get `false` and must do nothing more.
    pub fn unregister(&self, app: &Arc<App<C>>) -> bool {
        // Mutant: the pre-2012 bug of finding the app to tear down by its pid,
        // which is the newest registration of that pid, maybe not `app`.
        #[cfg(ustd_mutant = "pid_only")]
        let by_pid = self.by_pid.get(&app.info.creds.pid);
        #[cfg(ustd_mutant = "pid_only")]
        let app = by_pid.as_ref().unwrap_or(app);

        let Some(daemon_lease) = app.begin_teardown() else {
            return false;
        };
        self.unlink(app);
        #[cfg(ustd_mutant = "teardown_early")]
        daemon_lease.release_without_waiting();
        drop::<Arc<Lease<C>>>(daemon_lease);
        true
    }

    fn live(app: Option<Arc<App<C>>>) -> Option<Arc<App<C>>> {
        app.filter(|a| a.state() == AppState::Live)
    }

    pub fn get(&self, id: AppId) -> Option<Arc<App<C>>> {
        Self::live(self.by_id.get(&id))
    }

    pub fn lookup_by_cmd_sock(&self, key: i32) -> Option<Arc<App<C>>> {
        Self::live(self.by_cmd_sock.get(&key))
    }

    pub fn lookup_by_notify_sock(&self, key: i32) -> Option<Arc<App<C>>> {
        Self::live(self.by_notify.get(&key))
    }

    /// The newest live registration of `pid`.
    pub fn lookup_by_pid(&self, pid: i32) -> Option<Arc<App<C>>> {
        Self::live(self.by_pid.get(&pid))
    }

    /// A weakly consistent snapshot of live apps, sorted by id. Each app in
    /// it is whole (published and not yet torn down when sampled).
    pub fn snapshot(&self) -> Vec<Arc<App<C>>> {
        let mut v: Vec<_> = self
            .by_id
            .values()
            .into_iter()
            .filter(|a| a.state() == AppState::Live)
            .collect();
        v.sort_by_key(|a| a.id);
        v
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Entries per index: by id, by command socket, by notify socket, by
    /// pid. Outside an in-flight publish or teardown the first three are
    /// equal; the pid index may hold fewer (a reused pid keeps one entry).
    pub fn index_counts(&self) -> [usize; 4] {
        [
            self.by_id.len(),
            self.by_cmd_sock.len(),
            self.by_notify.len(),
            self.by_pid.len(),
        ]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(all(test, not(ustd_loom)))]
mod tests {
    use super::*;
    use crate::core::app::{AppInfo, Claimed, PeerCreds, TeardownJob};
    use std::sync::mpsc;
    use std::time::SystemTime;

    /// Connection stand-in: records its app id when the reaper gets it.
    struct FakeConn(u64);

    fn info(pid: i32, key: i32) -> AppInfo {
        AppInfo {
            creds: PeerCreds {
                pid,
                uid: 1000,
                gid: 1000,
            },
            claimed: Claimed {
                vpid: pid,
                ppid: 1,
                vuid: 1000,
                vgid: 1000,
            },
            name: "t".into(),
            bits_per_long: 64,
            alignments: [8; 5],
            abi_major: 9,
            abi_minor: 0,
            tracer_version: (2, 13, 5),
            cmd_key: key,
            notify_key: key + 1,
            registered_at: SystemTime::now(),
        }
    }

    fn new_app(
        reg: &AppRegistry<FakeConn>,
        tx: &mpsc::Sender<TeardownJob<FakeConn>>,
        pid: i32,
        key: i32,
    ) -> Arc<App<FakeConn>> {
        let id = reg.allocate_id();
        Arc::new(App::new(id, info(pid, key), FakeConn(id.0), tx.clone()))
    }

    #[test]
    fn unpublished_apps_are_invisible() {
        let (tx, _rx) = mpsc::channel();
        let reg = AppRegistry::new();
        let a = new_app(&reg, &tx, 100, 10);
        assert!(reg.get(a.id).is_none());
        reg.publish(&a).unwrap();
        assert!(reg.get(a.id).is_some());
        assert!(reg.lookup_by_cmd_sock(10).is_some());
        assert!(reg.lookup_by_notify_sock(11).is_some());
        assert_eq!(reg.lookup_by_pid(100).unwrap().id, a.id);
    }

    #[test]
    fn teardown_is_exactly_once_and_waits_for_leases() {
        let (tx, rx) = mpsc::channel();
        let reg = AppRegistry::new();
        let a = new_app(&reg, &tx, 100, 10);
        reg.publish(&a).unwrap();
        let lease = a.lease().unwrap();
        assert!(reg.unregister(&a));
        assert!(!reg.unregister(&a));
        assert!(reg.get(a.id).is_none() && reg.lookup_by_pid(100).is_none());
        assert!(a.lease().is_none());
        assert!(rx.try_recv().is_err(), "a lease is still held");
        assert_eq!(lease.0, a.id.0);
        drop(lease);
        assert_eq!(rx.try_recv().unwrap().app, a.id);
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn torn_down_during_handshake_is_never_published() {
        let (tx, rx) = mpsc::channel();
        let reg = AppRegistry::new();
        let a = new_app(&reg, &tx, 100, 10);
        assert!(reg.unregister(&a));
        assert_eq!(reg.publish(&a), Err(PublishError::TornDown));
        assert!(reg.is_empty());
        assert_eq!(rx.try_recv().unwrap().app, a.id);
    }

    #[test]
    fn reused_pid_and_fd_do_not_mix() {
        let (tx, _rx) = mpsc::channel();
        let reg = AppRegistry::new();
        let a = new_app(&reg, &tx, 100, 10);
        reg.publish(&a).unwrap();
        // B arrives with A's pid before A's teardown ran.
        let b = new_app(&reg, &tx, 100, 20);
        reg.publish(&b).unwrap();
        assert_eq!(reg.lookup_by_pid(100).unwrap().id, b.id);
        reg.unregister(&a);
        assert_eq!(
            reg.lookup_by_pid(100).unwrap().id,
            b.id,
            "A's teardown must not remove B"
        );
        // C reuses A's socket fd numbers after A is gone.
        let c = new_app(&reg, &tx, 300, 10);
        reg.publish(&c).unwrap();
        assert_eq!(reg.lookup_by_cmd_sock(10).unwrap().id, c.id);
        reg.unregister(&a);
        assert_eq!(reg.lookup_by_cmd_sock(10).unwrap().id, c.id);
    }

    #[test]
    fn concurrent_register_lookup_remove_and_iterate() {
        let (tx, rx) = mpsc::channel();
        let reg = Arc::new(AppRegistry::new());
        let threads = 4;
        let per = 500;
        let mut hs = Vec::new();
        for t in 0..threads {
            let (reg, tx) = (reg.clone(), tx.clone());
            hs.push(std::thread::spawn(move || {
                for i in 0..per {
                    let key = (t * per + i) as i32 * 2;
                    let a = new_app(&reg, &tx, 1000 + i as i32, key);
                    reg.publish(&a).unwrap();
                    assert_eq!(reg.lookup_by_cmd_sock(key).unwrap().id, a.id);
                    if i % 2 == 0 {
                        assert!(reg.unregister(&a));
                        assert!(reg.get(a.id).is_none());
                    }
                }
            }));
        }
        let reader = {
            let reg = reg.clone();
            std::thread::spawn(move || {
                for _ in 0..200 {
                    for a in reg.snapshot() {
                        // Whole: a snapshot never yields an unpublished app.
                        assert_ne!(a.state(), AppState::Registering);
                        assert_eq!(a.info.notify_key, a.info.cmd_key + 1);
                    }
                }
            })
        };
        for h in hs {
            h.join().unwrap();
        }
        reader.join().unwrap();
        assert_eq!(reg.len(), threads * per / 2);
        assert_eq!(reg.snapshot().len(), threads * per / 2);
        drop(tx);
        assert_eq!(rx.try_iter().count(), threads * per / 2);
    }
}
