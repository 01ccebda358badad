//! Model 8: a session's buffer sets: creation by an app of a UID vs a
//! per-PID app leaving vs `destroy`, on ustd's own `core::buffer_sets`
//! (`sets`, `closing`, the `closed` flag, each set's `pushing` lock) and
//! `core::metadata` (each set's registry and push protocol).
#![cfg(ustd_loom)]

use std::sync::atomic::{AtomicUsize, Ordering};

use loom::thread;
use ustd::core::buffer_sets::{final_push, push, BufferSets, SetsError};
use ustd::core::metadata::{Fragment, MetadataRegistry, MetadataSink};
use ustd::sync::{lock, Arc, Mutex};
use ustd_loom_tests::metadata::{event, per_uid_registry, CHANNEL_KEY};
use ustd_loom_tests::without_mutants;

/// Coverage, across executions: the UID's set was created before destroy
/// listed the sets / refused after; the app leaving closed its set / found
/// it taken by destroy; the app's push ended with its registry closed (a
/// close ran meanwhile).
static CREATED: AtomicUsize = AtomicUsize::new(0);
static REFUSED: AtomicUsize = AtomicUsize::new(0);
static LEAVE_CLOSED: AtomicUsize = AtomicUsize::new(0);
static DESTROY_TOOK_PID: AtomicUsize = AtomicUsize::new(0);
static PUSH_AFTER_CLOSE: AtomicUsize = AtomicUsize::new(0);
static TRY_JOINED: AtomicUsize = AtomicUsize::new(0);
static TRY_JOIN_REFUSED: AtomicUsize = AtomicUsize::new(0);

const OUTLIVED: &str = "a buffer set outlived its session";
const EARLY_RETURN: &str = "destroy returned before a close under way finished";
const RELEASED: &str = "metadata pushed to a released stream";
const SECOND_SET: &str = "a join found a set other than the UID's one";
const INCOMPLETE: &str = "stream released before the final push delivered everything";

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Key {
    Pid,
    Uid,
}

/// The consumer's metadata stream of a set.
#[derive(Default)]
struct Stream {
    received: usize,
    released: bool,
    releases: usize,
}

/// What `engine::trace::TraceSet` is to the daemon, minus the buffers.
struct Set {
    registry: MetadataRegistry,
    pushing: Mutex<()>,
    stream: Arc<Mutex<Stream>>,
}

struct Sink<'a>(&'a Mutex<Stream>);

impl MetadataSink for Sink<'_> {
    type Error = std::convert::Infallible;

    fn push(&mut self, f: &Fragment) -> Result<(), Self::Error> {
        let mut s = lock(self.0);
        assert!(!s.released, "{RELEASED}");
        assert_eq!(f.offset as usize, s.received, "fragments arrive in order");
        s.received += f.bytes.len();
        Ok(())
    }

    fn close(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Every set created in one execution (the consumer's view).
type Streams = Arc<Mutex<Vec<Arc<Mutex<Stream>>>>>;

fn new_set(streams: &Streams) -> Set {
    let stream = Arc::new(Mutex::new(Stream::default()));
    lock(streams).push(stream.clone());
    Set {
        registry: per_uid_registry(),
        pushing: Mutex::new(()),
        stream,
    }
}

/// `SessionTrace::close_owned_set`: final push and close (holding
/// `pushing`), then the release of the consumer's stream.
fn close(set: Arc<Set>) {
    final_push(&set.registry, &set.pushing, &mut Sink(&set.stream)).expect("the sink never fails");
    let (text_len, _) = set.registry.lengths();
    let mut s = lock(&set.stream);
    assert_eq!(s.received, text_len, "{INCOMPLETE}");
    s.released = true;
    s.releases += 1;
}

/// A started session whose per-PID app P has its set (an event registered,
/// not yet pushed). Racing:
///
/// - *P leaves* (the reaper's app-gone work): closes P's set, unless
///   destroy took it first;
/// - *U arrives*: the first app of a UID gets its set (created, or refused
///   once the session is destroyed), registers an event and pushes; then
///   a second app of the UID joins it without waiting (`try_join`, the
///   actors' inline path), which may only find that very set, or nothing;
/// - *destroy*: waits for a close under way, flushes, refuses new sets and
///   closes every set; then checks what it returned on.
///
/// Invariants:
/// 1. No set outlives its session: by the end every set created was
///    released exactly once.
/// 2. Destroy returns only after every close under way finished: when it
///    returns, P's set is released.
/// 3. The consumer's stream is never released under a push: no fragment
///    arrives after the release, and at release the stream holds the whole
///    text.
fn buffer_sets() {
    let sets: Arc<BufferSets<Key, Set>> = Arc::new(BufferSets::default());
    let streams = Streams::default();
    let pid_set = sets
        .get_or_create(Key::Pid, || Ok::<_, ()>(new_set(&streams)), |_| {})
        .expect("a started session creates sets");
    pid_set
        .registry
        .register_event(CHANNEL_KEY, &event("p:e"))
        .expect("an open registry registers");
    let pid_stream = pid_set.stream.clone();
    drop(pid_set);

    // Users first, destroy last: loom's first schedule (no preemption)
    // creates and pushes before destroy starts, so a mutant needs a real
    // interleaving to show.
    let leaves = {
        let sets = sets.clone();
        thread::spawn(move || {
            let seen = match sets.close_one(Key::Pid, close) {
                Some(()) => &LEAVE_CLOSED,
                None => &DESTROY_TOOK_PID,
            };
            seen.fetch_add(1, Ordering::Relaxed);
        })
    };
    let arrives = {
        let (sets, streams) = (sets.clone(), streams.clone());
        thread::spawn(move || {
            match sets.get_or_create(Key::Uid, || Ok::<_, ()>(new_set(&streams)), |_| {}) {
                Ok(set) => {
                    CREATED.fetch_add(1, Ordering::Relaxed);
                    // A refused registration (registry closed by destroy)
                    // gets an error reply; nothing to push then.
                    if set
                        .registry
                        .register_event(CHANNEL_KEY, &event("u:e"))
                        .is_ok()
                    {
                        push(&set.registry, &set.pushing, &mut Sink(&set.stream))
                            .expect("the sink never fails");
                        if set.registry.is_closed() {
                            PUSH_AFTER_CLOSE.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    match sets.try_join(Key::Uid, |_| {}) {
                        Some(joined) => {
                            assert!(Arc::ptr_eq(&joined, &set), "{SECOND_SET}");
                            TRY_JOINED.fetch_add(1, Ordering::Relaxed);
                        }
                        None => {
                            TRY_JOIN_REFUSED.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                Err(SetsError::Closed) => {
                    REFUSED.fetch_add(1, Ordering::Relaxed);
                }
                Err(SetsError::Create(())) => unreachable!("creation never fails here"),
            }
        })
    };
    let destroy = {
        let sets = sets.clone();
        thread::spawn(move || {
            sets.close_all(|| Ok::<_, ()>(()), close)
                .expect("the flush never fails");
            assert!(lock(&pid_stream).released, "{EARLY_RETURN}");
        })
    };
    for t in [leaves, arrives, destroy] {
        t.join().expect("model thread panicked");
    }
    for s in lock(&streams).iter() {
        let s = lock(s);
        assert!(s.released && s.releases == 1, "{OUTLIVED}");
    }
}

without_mutants! {
    #[test]
    fn model_buffer_sets() {
        ustd_loom_tests::explore("buffer sets", buffer_sets);
        for (what, n) in [
            ("the UID's set was never created", &CREATED),
            ("destroy never refused a new set", &REFUSED),
            ("the app leaving never closed its set", &LEAVE_CLOSED),
            ("destroy never took the leaving app's set", &DESTROY_TOOK_PID),
            ("no push ran against a closed registry", &PUSH_AFTER_CLOSE),
            ("no inline join found the UID's set", &TRY_JOINED),
            ("no inline join was refused (destroy under way)", &TRY_JOIN_REFUSED),
        ] {
            assert!(n.load(Ordering::Relaxed) > 0, "{what}");
        }
    }
}

/// Mutant `create_unchecked`: a set is created without checking that
/// destroy already listed the sets; nobody closes it.
#[cfg(ustd_mutant = "create_unchecked")]
#[test]
fn mutant_create_unchecked_is_caught() {
    ustd_loom_tests::expect_failure("buffer sets", &[OUTLIVED], buffer_sets);
}

/// Mutant `destroy_unserialized`: destroy does not take `closing`, so it
/// may return while the app leaving still closes its set.
#[cfg(ustd_mutant = "destroy_unserialized")]
#[test]
fn mutant_destroy_unserialized_is_caught() {
    ustd_loom_tests::expect_failure("buffer sets", &[EARLY_RETURN], buffer_sets);
}

/// Mutant `push_unserialized`: a push does not hold the set's `pushing`
/// lock, so a closer may release the stream under its fragment.
#[cfg(ustd_mutant = "push_unserialized")]
#[test]
fn mutant_push_unserialized_is_caught() {
    ustd_loom_tests::expect_failure("buffer sets", &[RELEASED, INCOMPLETE], buffer_sets);
}
