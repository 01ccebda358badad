#!/usr/bin/env bash
# Coverage-guided fuzzing of ustd's decoders of outside bytes (libFuzzer
# through cargo-fuzz; see fuzz/README.md).
#
#   fuzz/run.sh                 CI: each target FUZZ_SECONDS (default 5) s
#                               on its seeds and a scratch corpus
#   FUZZ_RUNS=10000000 fuzz/run.sh [TARGET...]   the long run
#
# cargo-fuzz passes nightly-only flags (-Zsanitizer=address, ...) to rustc.
# This project builds with the stable toolchain, so RUSTC_BOOTSTRAP=1 is set
# here, for this build only (its own target dir, fuzz/target): nothing else
# is built with unstable features.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v cargo-fuzz >/dev/null; then
    t0=$SECONDS
    cargo install --locked cargo-fuzz
    echo "== fuzz: installed cargo-fuzz in $((SECONDS - t0)) s"
fi
export RUSTC_BOOTSTRAP=1

targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi
# Seeds of the targets whose inputs are captured in tests/data (lttng
# client requests, relayd replies, filter expressions): fuzz/derived/.
python3 make_seeds.py
cargo fuzz build --release

if [ -n "${FUZZ_RUNS:-}" ]; then limit=(-runs="$FUZZ_RUNS"); else limit=(-max_total_time="${FUZZ_SECONDS:-5}"); fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for t in "${targets[@]}"; do
    mkdir -p "$scratch/$t" "corpus/$t"
    seeds=()
    for d in "seeds/$t" "derived/$t"; do [ -d "$d" ] && seeds+=("$d"); done
    echo "== fuzz: $t (${limit[*]})"
    # New inputs go to the scratch dir (first); the seeds and any kept
    # corpus are read only. A crash fails the script and leaves the input
    # under fuzz/artifacts/$t/.
    cargo fuzz run --release "$t" "$scratch/$t" "${seeds[@]}" "corpus/$t" -- \
        "${limit[@]}" -print_final_stats=1 2>&1 | tail -n 40
done
echo "== fuzz: every target ran without a crash"
