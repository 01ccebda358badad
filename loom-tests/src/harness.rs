//! Running a model: bounds from the environment, a count of the
//! interleavings explored, and the "this mutant must fail" wrapper.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one exploration did.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// Executions loom ran (each one a distinct interleaving).
    pub interleavings: usize,
    pub elapsed: Duration,
    pub preemption_bound: Option<usize>,
}

/// Default preemption bound when `LOOM_MAX_PREEMPTIONS` is unset: the CI
/// setting. An unbounded run must be asked for explicitly.
const DEFAULT_PREEMPTIONS: usize = 2;
/// Default branch limit when `LOOM_MAX_BRANCHES` is unset (loom's own is
/// 1,000; the registry's per-element iteration needs more).
const DEFAULT_BRANCHES: usize = 10_000;

fn builder() -> loom::model::Builder {
    let mut b = loom::model::Builder::new();
    if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
        b.preemption_bound = Some(DEFAULT_PREEMPTIONS);
    }
    if std::env::var_os("LOOM_MAX_BRANCHES").is_none() {
        b.max_branches = DEFAULT_BRANCHES;
    }
    b
}

/// Runs the model, counting executions in `counter` (a plain std atomic:
/// it lives outside the model and survives each execution).
fn run(
    name: &str,
    counter: &Arc<AtomicUsize>,
    model: impl Fn() + Sync + Send + 'static,
) -> Outcome {
    let b = builder();
    let bound = b.preemption_bound;
    let start = Instant::now();
    let executions = counter.clone();
    b.check(move || {
        executions.fetch_add(1, Ordering::Relaxed);
        model();
    });
    let outcome = Outcome {
        interleavings: counter.load(Ordering::Relaxed),
        elapsed: start.elapsed(),
        preemption_bound: bound,
    };
    println!(
        "[loom] model {name}: {} interleavings, preemption bound {}, {:.2?}",
        outcome.interleavings,
        bound.map_or("none".to_owned(), |b| b.to_string()),
        outcome.elapsed
    );
    outcome
}

/// Explores every interleaving of `model` within the bounds; panics (failing
/// the test) on the first one that breaks an assertion.
pub fn explore(name: &str, model: impl Fn() + Sync + Send + 'static) -> Outcome {
    run(name, &Arc::default(), model)
}

/// Messages of the panics raised while [`expect_failure`] runs, in order
/// (a plain std mutex: it lives outside the model).
static PANICS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn panic_message(info: &std::panic::PanicHookInfo<'_>) -> String {
    let p = info.payload();
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "<non-string panic payload>".to_owned())
}

/// For a mutant build: asserts that loom finds an interleaving of `model`
/// that breaks the invariant the mutant targets, and nothing else.
///
/// - The *first* panic of the exploration must carry one of `identities`
///   (distinctive texts of that invariant's assertions, or loom's own
///   report of an unordered access to a model cell, `"Causality
///   violation"`): a harness `expect`, a different invariant, or one of
///   loom's limits (branches, threads) does not count.
/// - The first execution (loom's schedule without preemption) must pass:
///   a mutant caught there needs no interleaving to show up. Unless the
///   failure is loom's causality report (see below).
///
/// Returns how many interleavings it took.
pub fn expect_failure(
    name: &str,
    identities: &[&str],
    model: impl Fn() + Sync + Send + 'static,
) -> usize {
    let counter = Arc::default();
    let start = Instant::now();
    PANICS.lock().unwrap_or_else(|e| e.into_inner()).clear();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        PANICS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(panic_message(info));
    }));
    let result = catch_unwind(AssertUnwindSafe(|| run(name, &counter, model)));
    std::panic::set_hook(previous);
    let n = counter.load(Ordering::Relaxed);
    let panics = std::mem::take(&mut *PANICS.lock().unwrap_or_else(|e| e.into_inner()));
    if let Ok(o) = result {
        panic!(
            "mutant of {name}: loom explored {} interleavings and none failed; \
             this model cannot catch the bug it targets",
            o.interleavings
        );
    }
    let first = panics
        .first()
        .map_or("<no panic message recorded>", String::as_str);
    assert!(
        identities.iter().any(|id| first.contains(id)),
        "mutant of {name}: the model failed, but not on the invariant the mutant \
         breaks (expected one of {identities:?}); first panic: {first}"
    );
    assert!(
        n > 1,
        "mutant of {name}: caught on loom's first schedule, so the model does not \
         need an interleaving to show it: {first}"
    );
    println!(
        "[loom] mutant of {name}: caught after {n} interleavings, {:.2?}, by: {}",
        start.elapsed(),
        first.lines().next().unwrap_or("")
    );
    n
}
