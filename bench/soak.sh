#!/usr/bin/env bash
# Large soak and crash soak in release mode, against the in-process fault-injecting mock model
# (bench/mock-llm). Prints one line of figures per phase (papers, HTTP requests, answered calls,
# 429s, 5xx, timeouts, statuses...).
#
#   bench/soak.sh                 # 300 papers; crash soak with 12 kills
#   SOAK_PAPERS=1000 SOAK_KILLS=20 SOAK_SEED=7 bench/soak.sh
#
# Knobs (environment): SOAK_PAPERS (300), SOAK_KILLS (12), SOAK_KILL_JITTER_MS (300),
# SOAK_SEED (20241105), SOAK_RETRY_AFTER_MS (Retry-After of injected 429s; 1000 here: the
# client honours it and pauses every request, as it must with a real server).
set -euo pipefail
cd "$(dirname "$0")/.."

export SOAK_PAPERS="${SOAK_PAPERS:-300}"
export SOAK_KILLS="${SOAK_KILLS:-12}"
export SOAK_KILL_JITTER_MS="${SOAK_KILL_JITTER_MS:-300}"
export SOAK_SEED="${SOAK_SEED:-20241105}"
export SOAK_RETRY_AFTER_MS="${SOAK_RETRY_AFTER_MS:-1000}"

echo "soak: papers=$SOAK_PAPERS kills=$SOAK_KILLS seed=$SOAK_SEED retry_after_ms=$SOAK_RETRY_AFTER_MS" >&2
status=0
for test in soak::soak_under_faults_then_clean_rerun_finishes_the_failed \
    crash_soak::killed_runs_resume_without_paying_twice_or_corrupting_the_store; do
    start=$(date +%s)
    log=$(mktemp)
    # Both live in the one integration-test binary; `--exact` runs one at a time.
    cargo test --release --locked --test it -- "$test" --exact --nocapture >"$log" 2>&1 || status=1
    grep -E '^(soak|crash soak)|^test |test result|panicked|assert|error' "$log" || true
    rm -f "$log"
    echo "${test%%::*}: $(( $(date +%s) - start ))s wall (including the build)" >&2
done
exit "$status"
