#!/usr/bin/env bash
# Runs the loom models of ustd's core: first the correct code (every model
# must pass), then each mutant build (its model must fail, i.e. loom must
# find a failing interleaving). Release mode, own target dir.
#
#   LOOM_MAX_PREEMPTIONS  preemption bound (default 2, the CI setting; 3 is
#                         the deeper run documented in the README)
#   MODELS                space-separated subset of: teardown metadata_push
#                         reuse publication session_owner handover
#                         job_queue buffer_sets push_gate room (default: all)
#
# Mutants are selected with USTD_MUTANT (read by the build scripts, which set
# `--cfg ustd_mutant="..."`), so switching mutants rebuilds only ustd and
# this crate, not every dependency as a RUSTFLAGS change would.
set -euo pipefail
cd "$(dirname "$0")/.."

export RUSTFLAGS="--cfg ustd_loom"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/loom}"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
models="${MODELS:-teardown metadata_push reuse publication session_owner handover job_queue buffer_sets push_gate room}"

# Model test file -> the mutants that reintroduce its historical bugs.
declare -A mutant_of=(
    [teardown]=teardown_early
    [metadata_push]=push_advance_early
    [reuse]=pid_only
    [publication]=publish_early
    [session_owner]=start_unchecked
    [handover]=attach_records_current
    [job_queue]=close_drain_first
    [buffer_sets]="create_unchecked destroy_unserialized push_unserialized"
    [push_gate]=push_gate_load
    [room]=room_blind_want
)

run_tests() { # <mutant or empty> <test file>
    local log
    log=$(mktemp)
    USTD_MUTANT="$1" cargo test --release -p ustd-loom-tests --test "$2" -- --nocapture --test-threads=1 2>&1 | tee "$log"
    # A misspelt cfg would compile the test out and pass with nothing run.
    if ! grep -q "test result: ok. 1 passed" "$log"; then
        echo "== $2${1:+ (mutant $1)}: expected exactly one test to run" >&2
        rm -f "$log"
        exit 1
    fi
    rm -f "$log"
}

echo "== loom models, preemption bound $LOOM_MAX_PREEMPTIONS"
start=$SECONDS
USTD_MUTANT= cargo build --release -p ustd-loom-tests --tests
for m in $models; do
    t0=$SECONDS
    run_tests "" "$m"
    echo "== model $m passed in $((SECONDS - t0)) s (wall, with test start-up)"
done

for m in $models; do
    for mutant in ${mutant_of[$m]}; do
        echo "== mutant $mutant against model $m"
        t0=$SECONDS
        # The mutant's test passes only if loom found a failing interleaving.
        run_tests "$mutant" "$m"
        echo "== mutant $mutant caught in $((SECONDS - t0)) s (wall, with its rebuild)"
    done
done
echo "== loom: all models passed and all mutants were caught in $((SECONDS - start)) s"
