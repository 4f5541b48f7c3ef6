#!/usr/bin/env bash
# Default-settings benchmark: the 101 papers of all the real Hugging Face daily files in
# ../shared/data/hf_daily_papers (one list) through the release binary against the mock model with a
# fixed latency and NO limits, with nothing configured but where the server, store and output are.
# Prints wall time per run and the median, next to the public Korean daily-papers bot's 5.4 s for
# the same 101 papers (no limits, all at once; 2.6 s of it interpreter start-up). Prints figures only.
#
#   bench/defaults.sh
#   BENCH_LATENCY_MS=300 BENCH_RUNS=5 bench/defaults.sh
#   BENCH_BIN_DIR=/path/to/older/build bench/defaults.sh     # the same case with other binaries
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh

latency_ms="${BENCH_LATENCY_MS:-300}"
runs="${BENCH_RUNS:-3}"
data="${PAPER_DIGEST_SHARED_DATA:-../shared/data}/hf_daily_papers"
if ! ls "$data"/2024-*.json >/dev/null 2>&1; then
    echo "bench: no Hugging Face daily files in $data (the shared data folder is absent)" >&2
    exit 2
fi

require_gnu_time
build_release
work="$(mktemp -d -t pd-defaults.XXXXXX)"
[ "${BENCH_KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
python3 - "$data" "$work/hf_$BENCH_DAY.json" <<'PY'
import glob, json, sys
seen, papers = set(), []
for path in sorted(glob.glob(sys.argv[1] + "/2024-*.json")):
    for item in json.load(open(path, encoding="utf-8")):
        if item["paper"]["id"] not in seen:
            seen.add(item["paper"]["id"])
            papers.append(item)
json.dump(papers, open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False)
print(f"bench: {len(papers)} papers from the daily files", file=sys.stderr)
PY

echo "defaults: latency=${latency_ms}ms runs=$runs (no limits on the mock; paper-digest's defaults)"
load_note
walls=()
for i in $(seq "$runs"); do
    dir="$work/run$i"
    mkdir -p "$dir"
    start_mock "$dir" --latency-ms "$latency_ms"
    # Only where things are: the server (no key needed), the store, the output.
    run_digest "$dir" "$work/hf_$BENCH_DAY.json"
    stop_mock "$dir"
    counts=$(python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print(s['requests'], 'requests')" "$dir/stats.json" 2>/dev/null || echo "? requests")
    echo "run $i: wall ${RUN_WALL} s, exit $RUN_EXIT, $counts"
    walls+=("$RUN_WALL")
done
python3 -c "import statistics,sys; w=[float(x) for x in sys.argv[1:]]; print(f'  median of {len(w)}: wall {statistics.median(w):.2f} s (the public bot: 5.4 s for the same 101 papers)')" "${walls[@]}"
load_note
[ "${BENCH_KEEP:-0}" = 1 ] && echo "runs kept in $work"
exit 0
