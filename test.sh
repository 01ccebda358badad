#!/usr/bin/env bash
# Runs every test of ustd: unit tests, the integration tests with real
# lttng-ust apps and babeltrace2, the loom models (bound 2, release), and a
# short run of each fuzz target.
# Needs root (integration tests use private mount namespaces). Installs the
# system packages it needs when they are missing (Debian 12).
set -euo pipefail
cd "$(dirname "$0")"

read -r -a pkgs < .ci/packages
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    # Keep package scripts from starting a real lttng-sessiond.
    policy=/usr/sbin/policy-rc.d own_policy=0
    if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; own_policy=1; fi
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
    if [ "$own_policy" = 1 ]; then rm -f "$policy"; fi
fi

# tests/fd_budget.rs drives the ustd-bench binary, which `cargo test` does not build.
cargo build --release -p ustd-bench
cargo test --workspace --release --no-fail-fast
LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:-2} loom-tests/run.sh
# Each fuzz target a few seconds on its corpus (see fuzz/README.md).
fuzz/run.sh
