#!/usr/bin/env bash
# Throughput benchmark: N synthetic papers through the release binary against the mock model
# (bench/mock-llm) with a fixed latency and no rate limits. Prints, per run and as the median:
# wall time / ideal (ideal = ceil(N/C) x latency), CPU time per paper (user+sys of paper-digest / N),
# and peak RSS (GNU time -v). Prints figures only; targets: ratio <= 1.10, peak RSS <= 100 MB.
#
#   bench/throughput.sh
#   BENCH_PAPERS=1000 BENCH_LATENCY_MS=300 BENCH_CONCURRENCY=32 BENCH_RUNS=3 bench/throughput.sh
#
# BENCH_KEEP=1 keeps the run directories (store, logs, time.txt, mock counts) and prints where.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh

papers="${BENCH_PAPERS:-1000}"
latency_ms="${BENCH_LATENCY_MS:-300}"
concurrency="${BENCH_CONCURRENCY:-32}"
runs="${BENCH_RUNS:-3}"

require_gnu_time
build_release
work="$(mktemp -d -t pd-throughput.XXXXXX)"
[ "${BENCH_KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
python3 bench/synthetic_papers.py "$papers" "$work/hf_$BENCH_DAY.json"

echo "throughput: papers=$papers latency=${latency_ms}ms concurrency=$concurrency runs=$runs"
load_note
dirs=()
for i in $(seq "$runs"); do
    dir="$work/run$i"
    mkdir -p "$dir"
    start_mock "$dir" --latency-ms "$latency_ms"
    run_digest "$dir" "$work/hf_$BENCH_DAY.json" \
        PAPER_DIGEST_RUN__CONCURRENCY="$concurrency" \
        PAPER_DIGEST_MODEL__REQUESTS_PER_MINUTE=0 \
        PAPER_DIGEST_MODEL__TOKENS_PER_MINUTE=0
    stop_mock "$dir"
    echo "run $i:"
    python3 bench/figures.py throughput "$dir" "$papers" "$concurrency" "$latency_ms" "$RUN_WALL" "$RUN_EXIT"
    dirs+=("$dir")
done
python3 bench/figures.py median "${dirs[@]}"
load_note
[ "${BENCH_KEEP:-0}" = 1 ] && echo "runs kept in $work"
exit 0
