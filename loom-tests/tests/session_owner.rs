//! Model 5: one owner per session. `start` vs `destroy` vs an app
//! registering, on ustd's own `core::session::Sessions` (run state and
//! configuration under one per-session mutex) and `core::registry`.
#![cfg(ustd_loom)]

use std::sync::atomic::{AtomicUsize, Ordering};

use loom::thread;
use ustd::core::admission::{Admission, Admitted};
use ustd::core::app::AppId;
use ustd::core::session::{LoglevelSel, Sessions};
use ustd::sync::{lock, Arc, Mutex};
use ustd_loom_tests::{without_mutants, World};

/// Coverage, across executions: destroy won against a start that had
/// checked the session (the fresh trace was handed back); the app caught up
/// after registering (the generation moved); the app's global update found
/// a started session.
static START_REFUSED: AtomicUsize = AtomicUsize::new(0);
static CAUGHT_UP: AtomicUsize = AtomicUsize::new(0);
static JOINED_IN_UPDATE: AtomicUsize = AtomicUsize::new(0);

const OUTLIVED: &str = "a trace outlived its session";
const MISSED: &str = "a registered app missed a started session";

#[derive(Default)]
struct TraceState {
    closed: bool,
    closes: usize,
    /// Apps holding buffers in the trace.
    apps: Vec<AppId>,
}

/// What `engine::trace::SessionTrace` is to the daemon: buffers apps join
/// (refused once closed, as `SessionTrace::closed` refuses new sets) and a
/// close that releases them.
struct ModelTrace {
    state: Arc<Mutex<TraceState>>,
}

/// Every trace created in one execution.
#[derive(Clone, Default)]
struct Traces(Arc<Mutex<Vec<Arc<Mutex<TraceState>>>>>);

impl Traces {
    fn create(&self) -> ModelTrace {
        let state = Arc::new(Mutex::new(TraceState::default()));
        lock(&self.0).push(state.clone());
        ModelTrace { state }
    }
}

impl ModelTrace {
    fn join(&self, app: AppId) -> bool {
        let mut s = lock(&self.state);
        if s.closed {
            return false;
        }
        if !s.apps.contains(&app) {
            s.apps.push(app);
        }
        true
    }

    fn close(&self) {
        let mut s = lock(&self.state);
        s.closed = true;
        s.closes += 1;
        s.apps.clear();
    }

    fn has(&self, app: AppId) -> bool {
        lock(&self.state).apps.contains(&app)
    }
}

/// `io::app_sync::sync_all` for one app: every started session's buffers.
fn sync_all(sessions: &Sessions<ModelTrace>, app: AppId) -> bool {
    let mut joined = false;
    for s in sessions.all() {
        if let Some(t) = s.trace() {
            joined |= t.join(app);
        }
    }
    joined
}

/// `io::commands::start`: check, create the trace outside any lock, one
/// transition, then the fan-out over the registry's snapshot.
fn start(
    sessions: &Sessions<ModelTrace>,
    traces: &Traces,
    world_apps: &dyn Fn() -> Vec<AppId>,
    name: &str,
) {
    let Ok(s) = sessions.resolve(Some(name)) else {
        return;
    };
    let Ok(needs) = sessions.needs_trace(&s) else {
        return;
    };
    let fresh = needs.then(|| traces.create());
    match sessions.start(&s, fresh) {
        Ok(()) => {
            for app in world_apps() {
                sync_all(sessions, app);
            }
        }
        Err(refused) => {
            if let Some(unused) = refused.unused {
                START_REFUSED.fetch_add(1, Ordering::Relaxed);
                unused.close();
            }
        }
    }
}

/// Sessions `a` and `b` are configured. Racing:
///
/// - *start*: starts `a`, then `b`, each followed by its fan-out;
/// - *destroy*: destroys `a` and closes the trace it took out;
/// - *register*: an app's registration steps (`core::admission`): begin,
///   global update, publish, then a catch-up sync if the configuration
///   generation moved meanwhile.
///
/// Invariants:
/// 1. No trace outlives its session: every trace created is closed exactly
///    once by the end, holding no app's buffers (`a` is destroyed; `b`'s
///    trace is closed by the model's own shutdown, as the daemon's).
/// 2. Every app that registered is in every started session: it holds
///    buffers in `b`'s trace.
fn session_owner() {
    let world = World::new();
    let sessions: Arc<Sessions<ModelTrace>> = Arc::new(Sessions::default());
    let traces = Traces::default();
    for name in ["a", "b"] {
        let s = sessions.create(name, "/tmp/t".into()).expect("fresh name");
        sessions
            .update(&s, |c| c.enable_event(None, "p:*", LoglevelSel::ALL))
            .expect("valid rule");
    }
    let app = world.connect(100);

    let starter = {
        let (sessions, traces, registry) =
            (sessions.clone(), traces.clone(), world.registry.clone());
        thread::spawn(move || {
            let apps = || registry.snapshot().iter().map(|a| a.id).collect();
            start(&sessions, &traces, &apps, "a");
            start(&sessions, &traces, &apps, "b");
        })
    };
    let destroyer = {
        let sessions = sessions.clone();
        thread::spawn(move || {
            if let Ok((_, Some(trace))) = sessions.destroy("a") {
                trace.close();
            }
        })
    };
    let register = {
        let (sessions, registry, app) = (sessions.clone(), world.registry.clone(), app.clone());
        thread::spawn(move || {
            // ustd's own registration steps (`core::admission`) around the
            // global update.
            let admission = Admission::begin(&sessions);
            if sync_all(&sessions, app.id) {
                JOINED_IN_UPDATE.fetch_add(1, Ordering::Relaxed);
            }
            let admitted = admission
                .publish(&sessions, &registry, &app)
                .expect("nobody hangs up");
            if admitted == Admitted::CatchUp {
                CAUGHT_UP.fetch_add(1, Ordering::Relaxed);
                sync_all(&sessions, app.id);
            }
        })
    };
    starter.join().expect("model thread panicked");
    destroyer.join().expect("model thread panicked");
    register.join().expect("model thread panicked");

    let b = sessions.get("b").expect("b is never destroyed");
    let b_trace = b.trace().expect("b was started");
    assert!(b_trace.has(app.id), "{MISSED}");
    // Shutdown closes what the sessions still own.
    for t in sessions.take_traces() {
        t.close();
    }
    for t in lock(&traces.0).iter() {
        let t = lock(t);
        assert!(t.closed && t.closes == 1 && t.apps.is_empty(), "{OUTLIVED}");
    }
}

without_mutants! {
    #[test]
    fn model_session_owner() {
        ustd_loom_tests::explore("session owner", session_owner);
        for (what, n) in [
            ("destroy never beat a checked start", &START_REFUSED),
            ("the app never caught up", &CAUGHT_UP),
            ("the global update never found a started session", &JOINED_IN_UPDATE),
        ] {
            assert!(n.load(Ordering::Relaxed) > 0, "{what}");
        }
    }
}

/// Mutant `start_unchecked`: `Sessions::start` trusts the earlier
/// `needs_trace` check (today's check-then-act), so a destroy in between
/// leaves a started trace in a dead session. Caught on invariant 1, after
/// more than the first schedule.
#[cfg(ustd_mutant = "start_unchecked")]
#[test]
fn mutant_start_unchecked_is_caught() {
    ustd_loom_tests::expect_failure("session owner", &[OUTLIVED], session_owner);
}
