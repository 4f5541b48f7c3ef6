#!/usr/bin/env bash
# Overlap benchmark: two `paper-digest run`s and one `summarize` started together on one store against
# a slow mock model (BENCH_PAPERS papers, BENCH_LATENCY_MS each), then a run SIGKILLed mid-way, a run
# right after it (the killed run's claims still hold), and one after the lease. Prints, from the mock's
# counts and the store: papers asked for more than once, and what each run's report says it left to
# another run. Prints figures only; target: every paper asked for exactly once in the overlap, and
# beyond that only the papers in flight at the kill asked again.
#
#   bench/overlap.sh
#   BENCH_PAPERS=100 BENCH_LATENCY_MS=1000 BENCH_LEASE_SECS=5 bench/overlap.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh

papers="${BENCH_PAPERS:-100}"
latency_ms="${BENCH_LATENCY_MS:-1000}"
lease="${BENCH_LEASE_SECS:-5}"
concurrency="${BENCH_CONCURRENCY:-8}"

build_release
work="$(mktemp -d -t pd-overlap.XXXXXX)"
[ "${BENCH_KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
input="$work/hf_$BENCH_DAY.json"
python3 bench/synthetic_papers.py "$papers" "$input"

# pd DIR ARGS... : paper-digest with only these variables, store and output in DIR. `env` execs it,
# so `pd … &` leaves the PID of paper-digest itself in $! (for the SIGKILL below).
pd() {
    local dir="$1"
    shift
    env -i PATH="$PATH" HOME="${HOME:-/tmp}" \
        PAPER_DIGEST_MODEL__BASE_URL="$MOCK_URL" PAPER_DIGEST_MODEL__REQUIRE_API_KEY=false \
        PAPER_DIGEST_RUN__DATABASE="$dir/digest.db" PAPER_DIGEST_RUN__OUT_DIR="$dir/out" \
        PAPER_DIGEST_RUN__CONCURRENCY="$concurrency" PAPER_DIGEST_RUN__CLAIM_LEASE_SECS="$lease" \
        PAPER_DIGEST_LOG_FORMAT=json "$PAPER_DIGEST" "$@"
}

# pd_bg DIR ERR ARGS... : pd in the background; sets PD_PID to paper-digest's own PID.
pd_bg() {
    local dir="$1" err="$2"
    shift 2
    env -i PATH="$PATH" HOME="${HOME:-/tmp}" \
        PAPER_DIGEST_MODEL__BASE_URL="$MOCK_URL" PAPER_DIGEST_MODEL__REQUIRE_API_KEY=false \
        PAPER_DIGEST_RUN__DATABASE="$dir/digest.db" PAPER_DIGEST_RUN__OUT_DIR="$dir/out" \
        PAPER_DIGEST_RUN__CONCURRENCY="$concurrency" PAPER_DIGEST_RUN__CLAIM_LEASE_SECS="$lease" \
        PAPER_DIGEST_LOG_FORMAT=json "$PAPER_DIGEST" "$@" >/dev/null 2>"$err" &
    PD_PID=$!
}

listed() {
    python3 - "$1" <<'PY'
import sqlite3, sys
try:
    conn = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
    print(conn.execute("SELECT count(*) FROM listings").fetchone()[0])
except sqlite3.Error:
    print(0)
PY
}

stored() {
    python3 - "$1" <<'PY'
import sqlite3, sys
try:
    conn = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
    print(conn.execute("SELECT count(*) FROM current").fetchone()[0])
except sqlite3.Error:
    print(0)
PY
}

# figures DIR : requests per paper from the mock, and each run's counts from the store.
figures() {
    local dir="$1"
    curl -s "${MOCK_URL%/v1}/stats" >"$dir/stats.json"
    python3 - "$dir/stats.json" "$dir/digest.db" "$papers" <<'PY'
import json, sqlite3, sys
stats = json.load(open(sys.argv[1]))
requests = {pid: p["requests"] for pid, p in stats["papers"].items()}
twice = sorted(pid for pid, n in requests.items() if n > 1)
conn = sqlite3.connect(f"file:{sys.argv[2]}?mode=ro", uri=True)
stored = conn.execute("SELECT count(*) FROM current").fetchone()[0]
print(f"  {sum(requests.values())} requests for {sys.argv[3]} papers; asked more than once: {len(twice)} {twice[:10]}; stored {stored}")
for run, kind, n in conn.execute("SELECT run, kind, count(*) FROM run_skips GROUP BY run, kind ORDER BY run"):
    print(f"  run {run}: {n} {kind.replace('_', ' ')}")
for run, ok, flagged, failed in conn.execute(
        "SELECT run, sum(status='ok'), sum(status='flagged'), sum(status='failed') FROM attempts GROUP BY run ORDER BY run"):
    print(f"  run {run}: ok {ok}, flagged {flagged}, failed {failed}")
PY
}

echo "overlap: papers=$papers latency=${latency_ms}ms concurrency=$concurrency lease=${lease}s"
load_note

dir="$work/together"
mkdir -p "$dir"
start_mock "$dir" --latency-ms "$latency_ms"
pd_bg "$dir" "$dir/a.err" run --source file --date "$BENCH_DAY" --input "$input"
a=$PD_PID
until [ "$(listed "$dir/digest.db")" -ge "$papers" ]; do sleep 0.05; done
pd_bg "$dir" "$dir/b.err" run --source file --date "$BENCH_DAY" --input "$input"
b=$PD_PID
pd_bg "$dir" "$dir/c.err" summarize 2411.00001 2411.00002 2411.00003
c=$PD_PID
wait "$a" "$b" "$c" || true
echo "two runs and a summarize together:"
figures "$dir"
stop_mock "$dir"

dir="$work/killed"
mkdir -p "$dir"
start_mock "$dir" --latency-ms "$latency_ms"
pd_bg "$dir" "$dir/a.err" run --source file --date "$BENCH_DAY" --input "$input"
a=$PD_PID
until [ "$(stored "$dir/digest.db")" -ge $((papers / 3)) ]; do sleep 0.05; done
kill -KILL "$a"
wait "$a" 2>/dev/null || true
echo "a run SIGKILLed after $(stored "$dir/digest.db") papers:"
figures "$dir"
pd "$dir" run --source file --date "$BENCH_DAY" --input "$input" >/dev/null 2>"$dir/b.err" || true
echo "a run right after the kill (the killed run's claims still hold):"
figures "$dir"
sleep "$lease"
pd "$dir" run --source file --date "$BENCH_DAY" --input "$input" >/dev/null 2>"$dir/c.err" || true
echo "a run after the lease:"
figures "$dir"
stop_mock "$dir"
load_note
[ "${BENCH_KEEP:-0}" = 1 ] && echo "runs kept in $work"
exit 0
