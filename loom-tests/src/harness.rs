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

/// For a mutant build: asserts that loom finds an interleaving of `model`
/// that fails. Returns how many interleavings it took.
pub fn expect_failure(name: &str, model: impl Fn() + Sync + Send + 'static) -> usize {
    let counter = Arc::default();
    let start = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| run(name, &counter, model)));
    let n = counter.load(Ordering::Relaxed);
    match result {
        Ok(o) => panic!(
            "mutant of {name}: loom explored {} interleavings and none failed; \
             this model cannot catch the bug it targets",
            o.interleavings
        ),
        Err(_) => {
            println!(
                "[loom] mutant of {name}: caught, failing interleaving found after {n} \
                 interleavings, {:.2?}",
                start.elapsed()
            );
            n
        }
    }
}
