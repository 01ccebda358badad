//! Map contention benchmark for the app registry.
//!
//! The daemon keeps its registered apps in concurrent maps keyed by a `u64`
//! (app id, notify-socket id) whose values are `Arc<AppShell>`-like handles.
//! Two read paths matter:
//! - a lookup by key (every notify message, every command reply);
//! - a full iteration that snapshots every app (session start/stop fan-out);
//!
//! and both run while other threads register and unregister apps (churn).
//! A third group times the writers instead: register + unregister while other
//! threads iterate, which is what a fan-out costs apps arriving during it.
//!
//! Thread layout per configuration ("N threads total"):
//! - `1t`: one measured thread, nothing in the background (uncontended);
//! - `2t`: one measured thread + one background thread (both cores busy);
//! - `4t-oversub`: two measured + two background threads on a 2-core host,
//!   i.e. deliberately oversubscribed so lock-holder preemption shows up.
//!
//! Each sample is timed with `iter_custom`: every thread meets on a barrier,
//! the measured threads each perform `iters` operations and time themselves,
//! and the sample's duration is the slowest measured thread's wall time.
//! Background threads run for the whole sample and stop only after the
//! measured threads are done, so every timed operation faces contention. The
//! reported time is therefore "time per operation per measured thread".
//!
//! Quick run (CI-sized):
//! `cargo bench --bench map_contention -- --warm-up-time 0.5 --measurement-time 1 --sample-size 10`
//! Smoke run (one iteration each, no timing): `cargo bench --bench map_contention -- --test`

use std::collections::HashMap as StdHashMap;
use std::hash::RandomState;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, PoisonError, RwLock};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

/// Apps present for the whole run; lookups always target these keys.
const PREFILL: u64 = 1_000;
/// Capacity every map is created with, so no run measures a resize of the
/// stable set (the daemon sizes its maps at startup too).
const CAPACITY: usize = 4_096;
/// Keys each churn thread keeps live at once (register now, unregister later).
const CHURN_WINDOW: u64 = 64;
/// Disjoint key range per churn thread, far away from the stable keys.
const CHURN_KEY_BASE: u64 = 1 << 32;
const CHURN_KEY_STRIDE: u64 = 1 << 24;
/// Pre-generated lookup sequence length (power of two, indexed with a mask).
const LOOKUP_KEYS: usize = 4_096;

/// Stand-in for the daemon's per-app shell: small, immutable, shared by `Arc`.
#[allow(dead_code)] // fields exist to give the value a realistic size
#[derive(Debug)]
struct AppShell {
    app_id: u64,
    pid: i32,
    ppid: i32,
    uid: u32,
    gid: u32,
    bits_per_long: u32,
    cmd_sock: i32,
    notify_sock: i32,
    name: [u8; 16],
}

impl AppShell {
    fn new(app_id: u64) -> Arc<Self> {
        // Truncation is fine: these are synthetic, realistic-looking values.
        let small = (app_id & 0x7fff_ffff) as i32;
        Arc::new(AppShell {
            app_id,
            pid: 1_000 + small,
            ppid: 1,
            uid: 0,
            gid: 0,
            bits_per_long: 64,
            cmd_sock: 10 + small,
            notify_sock: 11 + small,
            name: *b"fake-app\0\0\0\0\0\0\0\0",
        })
    }
}

/// The operations the registry needs from a map, implemented for each candidate.
trait AppMap: Send + Sync + 'static {
    const NAME: &'static str;
    fn with_capacity(cap: usize) -> Self;
    fn insert(&self, key: u64, app: Arc<AppShell>);
    fn remove(&self, key: u64);
    /// Lookup returning a cloned `Arc`, as the daemon does before any I/O.
    fn get(&self, key: u64) -> Option<Arc<AppShell>>;
    /// Snapshot of every app into `out` (cleared first), as a fan-out does
    /// before it talks to the apps without holding any map guard or lock.
    fn snapshot(&self, out: &mut Vec<Arc<AppShell>>);
}

struct Papaya(papaya::HashMap<u64, Arc<AppShell>, RandomState>);

impl AppMap for Papaya {
    const NAME: &'static str = "papaya";
    fn with_capacity(cap: usize) -> Self {
        // Default resize mode (Incremental(64)) and default seize collector
        // (batch size 32): the daemon's configuration unless the ADR says otherwise.
        Papaya(papaya::HashMap::with_capacity_and_hasher(
            cap,
            RandomState::new(),
        ))
    }
    fn insert(&self, key: u64, app: Arc<AppShell>) {
        self.0.pin().insert(key, app);
    }
    fn remove(&self, key: u64) {
        self.0.pin().remove(&key);
    }
    fn get(&self, key: u64) -> Option<Arc<AppShell>> {
        self.0.pin().get(&key).cloned()
    }
    fn snapshot(&self, out: &mut Vec<Arc<AppShell>>) {
        out.clear();
        out.extend(self.0.pin().values().cloned());
    }
}

struct Flurry(flurry::HashMap<u64, Arc<AppShell>, RandomState>);

impl AppMap for Flurry {
    const NAME: &'static str = "flurry";
    fn with_capacity(cap: usize) -> Self {
        Flurry(flurry::HashMap::with_capacity_and_hasher(
            cap,
            RandomState::new(),
        ))
    }
    fn insert(&self, key: u64, app: Arc<AppShell>) {
        self.0.pin().insert(key, app);
    }
    fn remove(&self, key: u64) {
        self.0.pin().remove(&key);
    }
    fn get(&self, key: u64) -> Option<Arc<AppShell>> {
        self.0.pin().get(&key).cloned()
    }
    fn snapshot(&self, out: &mut Vec<Arc<AppShell>>) {
        out.clear();
        out.extend(self.0.pin().values().cloned());
    }
}

struct Dash(dashmap::DashMap<u64, Arc<AppShell>, RandomState>);

impl AppMap for Dash {
    const NAME: &'static str = "dashmap";
    fn with_capacity(cap: usize) -> Self {
        Dash(dashmap::DashMap::with_capacity_and_hasher(
            cap,
            RandomState::new(),
        ))
    }
    fn insert(&self, key: u64, app: Arc<AppShell>) {
        self.0.insert(key, app);
    }
    fn remove(&self, key: u64) {
        self.0.remove(&key);
    }
    fn get(&self, key: u64) -> Option<Arc<AppShell>> {
        self.0.get(&key).map(|entry| Arc::clone(entry.value()))
    }
    fn snapshot(&self, out: &mut Vec<Arc<AppShell>>) {
        out.clear();
        out.extend(self.0.iter().map(|entry| Arc::clone(entry.value())));
    }
}

struct StdRwLock(RwLock<StdHashMap<u64, Arc<AppShell>, RandomState>>);

impl AppMap for StdRwLock {
    const NAME: &'static str = "rwlock-std";
    fn with_capacity(cap: usize) -> Self {
        StdRwLock(RwLock::new(StdHashMap::with_capacity_and_hasher(
            cap,
            RandomState::new(),
        )))
    }
    // A poisoned lock only means another bench thread panicked; the map
    // itself is still consistent for this benchmark's purposes.
    fn insert(&self, key: u64, app: Arc<AppShell>) {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, app);
    }
    fn remove(&self, key: u64) {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key);
    }
    fn get(&self, key: u64) -> Option<Arc<AppShell>> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned()
    }
    fn snapshot(&self, out: &mut Vec<Arc<AppShell>>) {
        out.clear();
        let map = self.0.read().unwrap_or_else(PoisonError::into_inner);
        out.extend(map.values().cloned());
    }
}

/// Thread layout of one configuration: `measured` threads run the timed
/// operation, `background` threads run the contending one for the whole sample.
#[derive(Clone, Copy)]
struct Layout {
    label: &'static str,
    measured: usize,
    background: usize,
}

const LAYOUTS: [Layout; 3] = [
    Layout {
        label: "1t",
        measured: 1,
        background: 0,
    },
    Layout {
        label: "2t",
        measured: 1,
        background: 1,
    },
    Layout {
        label: "4t-oversub",
        measured: 2,
        background: 2,
    },
];

#[derive(Clone, Copy)]
enum Workload {
    /// Timed: lookups by key. Background: register/unregister churn.
    Lookup,
    /// Timed: full snapshots. Background: register/unregister churn.
    Iterate,
    /// Timed: one register + one unregister. Background: full snapshots.
    /// This is the writers' side of `Iterate`: what a fan-out costs the
    /// apps that connect or leave while it runs.
    ChurnUnderIteration,
}

impl Workload {
    fn group(self) -> &'static str {
        match self {
            Workload::Lookup => "lookup",
            Workload::Iterate => "iterate",
            Workload::ChurnUnderIteration => "churn-under-iteration",
        }
    }
}

/// Deterministic xorshift so every map sees the same key sequence.
fn lookup_keys(seed: u64) -> Vec<u64> {
    let mut x = seed | 1;
    (0..LOOKUP_KEYS)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % PREFILL
        })
        .collect()
}

/// Register/unregister sequence over a private key range: keeps
/// `CHURN_WINDOW` of its keys live, inserting a fresh app and removing the
/// oldest one each step.
struct Churn {
    base: u64,
    next: u64,
}

impl Churn {
    fn new(slot: usize) -> Self {
        Churn {
            base: CHURN_KEY_BASE + slot as u64 * CHURN_KEY_STRIDE,
            next: 0,
        }
    }

    fn step<M: AppMap>(&mut self, map: &M) {
        let key = self.base + self.next % CHURN_KEY_STRIDE;
        map.insert(key, AppShell::new(key));
        if self.next >= CHURN_WINDOW {
            map.remove(self.base + (self.next - CHURN_WINDOW) % CHURN_KEY_STRIDE);
        }
        self.next += 1;
    }

    /// Leaves the map as it was found so samples are independent.
    fn finish<M: AppMap>(self, map: &M) {
        for old in self.next.saturating_sub(CHURN_WINDOW)..self.next {
            map.remove(self.base + old % CHURN_KEY_STRIDE);
        }
    }
}

/// Contending work, run until `stop` is set.
fn background<M: AppMap>(map: &M, workload: Workload, slot: usize, stop: &AtomicBool) {
    match workload {
        Workload::Lookup | Workload::Iterate => {
            let mut churn = Churn::new(slot);
            while !stop.load(Ordering::Relaxed) {
                churn.step(map);
            }
            churn.finish(map);
        }
        Workload::ChurnUnderIteration => {
            let mut out = Vec::with_capacity(CAPACITY);
            while !stop.load(Ordering::Relaxed) {
                map.snapshot(&mut out);
                black_box(&out);
            }
        }
    }
}

/// The timed work: `iters` operations; returns its own wall time.
fn measured<M: AppMap>(
    map: &M,
    workload: Workload,
    slot: usize,
    iters: u64,
    start: &Barrier,
) -> Duration {
    match workload {
        Workload::Lookup => {
            let keys = lookup_keys(0x9e37_79b9_7f4a_7c15 ^ slot as u64);
            let mask = keys.len() - 1;
            start.wait();
            let began = Instant::now();
            for i in 0..iters {
                let key = keys[i as usize & mask];
                black_box(map.get(black_box(key)));
            }
            began.elapsed()
        }
        Workload::Iterate => {
            let mut out = Vec::with_capacity(CAPACITY);
            start.wait();
            let began = Instant::now();
            for _ in 0..iters {
                map.snapshot(&mut out);
                black_box(&out);
            }
            began.elapsed()
        }
        Workload::ChurnUnderIteration => {
            // Slots above the background ones keep key ranges disjoint.
            let mut churn = Churn::new(64 + slot);
            start.wait();
            let began = Instant::now();
            for _ in 0..iters {
                churn.step(map);
            }
            let elapsed = began.elapsed();
            churn.finish(map);
            elapsed
        }
    }
}

/// One `iter_custom` sample: returns the slowest measured thread's time for
/// `iters` operations, with the background threads running throughout.
fn timed_sample<M: AppMap>(map: &M, layout: Layout, workload: Workload, iters: u64) -> Duration {
    let stop = AtomicBool::new(false);
    let start = Barrier::new(layout.measured + layout.background);
    std::thread::scope(|s| {
        for slot in 0..layout.background {
            let (stop, start) = (&stop, &start);
            s.spawn(move || {
                start.wait();
                background(map, workload, slot, stop);
            });
        }
        let timed: Vec<_> = (0..layout.measured)
            .map(|slot| {
                let start = &start;
                s.spawn(move || measured(map, workload, slot, iters, start))
            })
            .collect();
        // A panicking thread is a bug in this file; propagate it as criterion would.
        let slowest = timed
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .max()
            .unwrap_or_default();
        stop.store(true, Ordering::Relaxed);
        slowest
    })
}

fn bench_map<M: AppMap>(c: &mut Criterion, workload: Workload) {
    let map = M::with_capacity(CAPACITY);
    for key in 0..PREFILL {
        map.insert(key, AppShell::new(key));
    }
    let mut group = c.benchmark_group(workload.group());
    for layout in LAYOUTS {
        group.bench_with_input(
            BenchmarkId::new(M::NAME, layout.label),
            &layout,
            |b, &layout| b.iter_custom(|iters| timed_sample(&map, layout, workload, iters)),
        );
    }
    group.finish();
}

fn lookups(c: &mut Criterion) {
    bench_map::<Papaya>(c, Workload::Lookup);
    bench_map::<Flurry>(c, Workload::Lookup);
    bench_map::<Dash>(c, Workload::Lookup);
    bench_map::<StdRwLock>(c, Workload::Lookup);
}

fn iteration(c: &mut Criterion) {
    bench_map::<Papaya>(c, Workload::Iterate);
    bench_map::<Flurry>(c, Workload::Iterate);
    bench_map::<Dash>(c, Workload::Iterate);
    bench_map::<StdRwLock>(c, Workload::Iterate);
}

fn churn_under_iteration(c: &mut Criterion) {
    bench_map::<Papaya>(c, Workload::ChurnUnderIteration);
    bench_map::<Flurry>(c, Workload::ChurnUnderIteration);
    bench_map::<Dash>(c, Workload::ChurnUnderIteration);
    bench_map::<StdRwLock>(c, Workload::ChurnUnderIteration);
}

criterion_group!(benches, lookups, iteration, churn_under_iteration);
criterion_main!(benches);
