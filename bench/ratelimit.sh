#!/usr/bin/env bash
# Rate-limit benchmark: the mock model (bench/mock-llm) enforces R requests/min and T tokens/min
# (429 + Retry-After beyond them, x-ratelimit-* headers on every answer) and paper-digest is
# configured with R and T too. Prints, per run and as the median of the runs:
#   - tokens the server admitted per minute, as a share of what its limit allows in the run
#     (T x (1 + minutes): its bucket starts full), and the same for requests;
#   - the 429s the mock sent, as a count and a share of all requests.
# Two cases: "matched" (server limits = client limits) and "adaptive" (the server allows only
# BENCH_SERVER_SHARE of the configured limits: the client must back off on the 429s and headers
# instead of hammering). Prints figures only; targets: >= 90% of the limit, <= 1% of requests 429.
#
#   bench/ratelimit.sh
#   BENCH_RPM=600 BENCH_TPM=100000 BENCH_PAPERS=120 BENCH_RUNS=3 bench/ratelimit.sh
#   BENCH_CASES=adaptive bench/ratelimit.sh
#
# Each request costs about 650 prompt tokens (the mock counts bytes/4) + max_tokens (1500), so with
# T = 100k tokens bind (~46 requests/min) long before R = 600; 120 papers take about 1.5 minutes,
# and the adaptive case (half the limits) runs half the papers for about as long.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh

rpm="${BENCH_RPM:-600}"
tpm="${BENCH_TPM:-100000}"
papers="${BENCH_PAPERS:-120}"
share="${BENCH_SERVER_SHARE:-0.5}"
concurrency="${BENCH_CONCURRENCY:-32}"
latency_ms="${BENCH_LATENCY_MS:-200}"
max_output=1500
runs="${BENCH_RUNS:-3}"
cases="${BENCH_CASES:-matched adaptive}"

require_gnu_time
build_release
work="$(mktemp -d -t pd-ratelimit.XXXXXX)"
[ "${BENCH_KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT

echo "ratelimit: client R=$rpm/min T=$tpm/min; concurrency=$concurrency latency=${latency_ms}ms runs=$runs"
for case in $cases; do
    case "$case" in
    matched)
        server_rpm="$rpm" server_tpm="$tpm" n="$papers" ;;
    adaptive)
        server_rpm=$(python3 -c "print(max(1, round($rpm * $share)))")
        server_tpm=$(python3 -c "print(max(1, round($tpm * $share)))")
        n=$(python3 -c "print(max(1, round($papers * $share)))") ;;
    *)
        echo "bench: unknown case $case (matched, adaptive)" >&2
        exit 2 ;;
    esac
    input="$work/hf_${case}.json"
    python3 bench/synthetic_papers.py "$n" "$input"
    echo "$case: server R=$server_rpm/min T=$server_tpm/min, $n papers"
    load_note
    dirs=()
    for i in $(seq "$runs"); do
        dir="$work/$case$i"
        mkdir -p "$dir"
        start_mock "$dir" --latency-ms "$latency_ms" --rpm "$server_rpm" --tpm "$server_tpm"
        run_digest "$dir" "$input" \
            PAPER_DIGEST_RUN__CONCURRENCY="$concurrency" \
            PAPER_DIGEST_MODEL__REQUESTS_PER_MINUTE="$rpm" \
            PAPER_DIGEST_MODEL__TOKENS_PER_MINUTE="$tpm" \
            PAPER_DIGEST_MODEL__MAX_OUTPUT_TOKENS="$max_output"
        stop_mock "$dir"
        echo "run $i:"
        python3 bench/figures.py ratelimit "$dir" "$server_tpm" "$server_rpm" "$max_output" "$RUN_WALL" "$RUN_EXIT"
        dirs+=("$dir")
    done
    python3 bench/figures.py median "${dirs[@]}"
done
load_note
[ "${BENCH_KEEP:-0}" = 1 ] && echo "runs kept in $work"
exit 0
