# Shared by bench/throughput.sh and bench/ratelimit.sh (sourced, not run): release builds, the mock
# model server as a separate process, and one `paper-digest run` under /usr/bin/time -v.

BENCH_DAY=2024-11-05
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
# BENCH_BIN_DIR: take both binaries from there and build nothing (e.g. a saved "before" build).
BIN_DIR="${BENCH_BIN_DIR:-$TARGET_DIR/release}"
PAPER_DIGEST="$BIN_DIR/paper-digest"
MOCK_LLM="$BIN_DIR/mock-llm"

# GNU time's -v gives the peak RSS; the shell keyword `time` does not.
require_gnu_time() {
    if /usr/bin/time -v true >/dev/null 2>&1; then
        return 0
    fi
    echo "bench: /usr/bin/time (GNU time, Debian package \`time\`) is missing; installing it with apt-get" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    if ! { $sudo apt-get install -y time >/dev/null 2>&1 || { $sudo apt-get update >/dev/null 2>&1 && $sudo apt-get install -y time >/dev/null 2>&1; }; }; then
        echo "bench: could not install it; run: apt-get install time" >&2
        exit 2
    fi
}

build_release() {
    if [ -n "${BENCH_BIN_DIR:-}" ]; then
        echo "bench: using the binaries in $BENCH_BIN_DIR (no build)" >&2
        return 0
    fi
    echo "bench: building paper-digest and mock-llm (release) into $TARGET_DIR" >&2
    cargo build --release --locked -p paper-digest --bin paper-digest \
        -p paper-digest-mock-llm --bin mock-llm >&2
}

# start_mock DIR ARGS... : starts mock-llm on a free loopback port; sets MOCK_PID and MOCK_URL.
start_mock() {
    local dir="$1"
    shift
    "$MOCK_LLM" --addr 127.0.0.1:0 "$@" >"$dir/mock.out" 2>"$dir/mock.err" &
    MOCK_PID=$!
    local _
    for _ in $(seq 100); do
        MOCK_URL="$(head -n 1 "$dir/mock.out" 2>/dev/null || true)"
        [ -n "$MOCK_URL" ] && return 0
        kill -0 "$MOCK_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "bench: mock-llm did not start: $(cat "$dir/mock.err")" >&2
    exit 2
}

# stop_mock DIR : Ctrl-C makes the mock print its counts as JSON; they go to DIR/stats.json.
stop_mock() {
    local dir="$1"
    kill -INT "$MOCK_PID"
    wait "$MOCK_PID" || true
    tail -n +2 "$dir/mock.out" >"$dir/stats.json"
}

# run_digest DIR INPUT [VAR=VALUE...] : one `paper-digest run` on INPUT against the mock, with a
# fresh store and out dir in DIR, under /usr/bin/time -v (DIR/time.txt); sets RUN_EXIT and RUN_WALL (s).
run_digest() {
    local dir="$1" input="$2"
    shift 2
    local start end
    start=$(date +%s.%N)
    set +e
    (
        # Only the variables below configure the binary.
        while read -r name; do unset "$name"; done < <(compgen -e | grep -E '^(PAPER_DIGEST_|OPENAI_)')
        export PAPER_DIGEST_MODEL__BASE_URL="$MOCK_URL"
        export PAPER_DIGEST_MODEL__REQUIRE_API_KEY=false
        export PAPER_DIGEST_RUN__DATABASE="$dir/digest.db"
        export PAPER_DIGEST_RUN__OUT_DIR="$dir/out"
        export PAPER_DIGEST_LOG_FORMAT=json
        for assignment in "$@"; do export "${assignment?}"; done
        exec /usr/bin/time -v -o "$dir/time.txt" "$PAPER_DIGEST" run --source file \
            --date "$BENCH_DAY" --input "$input" >"$dir/run.out" 2>"$dir/run.err"
    )
    RUN_EXIT=$?
    set -e
    end=$(date +%s.%N)
    RUN_WALL=$(python3 -c "print(f'{$end - $start:.3f}')")
    if [ "$RUN_EXIT" -gt 1 ]; then
        echo "bench: paper-digest exited $RUN_EXIT; stderr tail:" >&2
        tail -n 5 "$dir/run.err" >&2
    fi
}

load_note() {
    echo "load: $(uptime | sed 's/.*load average/load average/') on $(nproc) cores"
}
