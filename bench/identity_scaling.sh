#!/usr/bin/env bash
# Identity checks' cost per summary as the batch grows: for each size N, N synthetic papers with one
# Korean summary each (every tenth also swapped with the next paper's abstract), ALL in one batch, so
# every summary is contrasted with N abstracts. Runs `paper-digest eval-checks` (release) and prints,
# per size, medians over runs of: the checking time per summary (1 / the summaries/s it reports, which
# times the checks alone, batch preparation included: wall time, so it suffers from a loaded machine),
# the CPU time (user+sys) of the whole command per pair (reading the JSONL and building the hard
# negatives included: nearest neighbours are searched among every pair of abstracts of batches up to
# 2,000 papers, so N=1,000 pays ~0.6 ms a pair for that and larger sizes do not), and the peak RSS.
# Prints figures only; target: the cost per summary stays flat from 1,000 to 10,000 papers.
#
#   bench/identity_scaling.sh
#   BENCH_SIZES="1000 3000 10000" BENCH_RUNS=3 bench/identity_scaling.sh
#
# BENCH_BIN_DIR=dir uses a saved paper-digest instead of building (e.g. a "before" build).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh

sizes="${BENCH_SIZES:-1000 3000 10000}"
runs="${BENCH_RUNS:-3}"

require_gnu_time
if [ -n "${BENCH_BIN_DIR:-}" ]; then
    echo "bench: using $PAPER_DIGEST (no build)" >&2
else
    echo "bench: building paper-digest (release) into $TARGET_DIR" >&2
    cargo build --release --locked -p paper-digest --bin paper-digest >&2
fi
work="$(mktemp -d -t pd-identity-scaling.XXXXXX)"
trap 'rm -rf "$work"' EXIT

echo "identity scaling: sizes=$sizes runs=$runs (one batch of N papers; 1.1 N pairs)"
load_note
for n in $sizes; do
    pairs="$work/pairs_$n.jsonl"
    python3 bench/identity_pairs_synthetic.py "$n" "$pairs" --swaps
    for i in $(seq "$runs"); do
        /usr/bin/time -v -o "$work/time_${n}_$i.txt" "$PAPER_DIGEST" eval-checks --pairs "$pairs" \
            >"$work/eval_${n}_$i.txt"
        rate=$(sed -n 's/^throughput: \([0-9.]*\) summaries\/s$/\1/p' "$work/eval_${n}_$i.txt")
        rss=$(sed -n 's/^\tMaximum resident set size (kbytes): //p' "$work/time_${n}_$i.txt")
        user=$(sed -n 's/^\tUser time (seconds): //p' "$work/time_${n}_$i.txt")
        sys=$(sed -n 's/^\tSystem time (seconds): //p' "$work/time_${n}_$i.txt")
        echo "$rate $rss $user $sys" >>"$work/figures_$n.txt"
    done
    python3 - "$n" "$work/figures_$n.txt" "$work/eval_${n}_1.txt" "$pairs" <<'EOF'
import statistics, sys
n, figures, report = sys.argv[1], sys.argv[2], sys.argv[3]
rows = [line.split() for line in open(figures)]
rates = [float(r[0]) for r in rows]
rss = [int(r[1]) for r in rows]
pair_count = sum(1 for _ in open(sys.argv[4]))
cpu = [(float(r[2]) + float(r[3])) / pair_count for r in rows]
recall = next((l.strip() for l in open(report) if l.startswith("recall")), "")
fpr = next((l.strip() for l in open(report) if l.startswith("false-positive rate on matches:")), "")
print(f"N={n}: {1e6 / statistics.median(rates):.0f} us per summary "
      f"({statistics.median(rates):.0f} summaries/s), {1e6 * statistics.median(cpu):.0f} us CPU per pair, peak RSS {statistics.median(rss) / 1024:.1f} MB; {recall}; {fpr}")
EOF
done
