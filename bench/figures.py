#!/usr/bin/env python3
"""Figures of one benchmark run, and the median of several (used by bench/*.sh; prints, never asserts).

    figures.py throughput DIR PAPERS CONCURRENCY LATENCY_MS WALL_S EXIT
    figures.py ratelimit  DIR TPM RPM MAX_OUTPUT_TOKENS WALL_S EXIT
    figures.py median DIR...

A run DIR holds time.txt (GNU time -v), stats.json (the mock's counts) and digest.db (the store);
each command writes DIR/figures.json and prints one line.
"""

import json
import math
import re
import sqlite3
import statistics
import sys
from pathlib import Path


def gnu_time(path: Path) -> dict:
    """User+sys CPU seconds and peak RSS (KiB) from `/usr/bin/time -v` output."""
    text = path.read_text(encoding="utf-8", errors="replace")

    def number(label: str) -> float:
        match = re.search(rf"^\s*{re.escape(label)}:\s*([0-9.]+)\s*$", text, re.MULTILINE)
        if match is None:
            raise SystemExit(f"{path}: no '{label}' line (is it GNU time -v output?)")
        return float(match.group(1))

    return {
        "cpu_s": number("User time (seconds)") + number("System time (seconds)"),
        "max_rss_kib": number("Maximum resident set size (kbytes)"),
    }


def store(db: Path) -> dict:
    """Statuses of the current summaries, and the prompt tokens and successful calls of all attempts."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        statuses = dict(
            conn.execute(
                "SELECT a.status, count(*) FROM current c JOIN attempts a ON a.id = c.attempt GROUP BY a.status"
            ).fetchall()
        )
        prompt_tokens, calls = conn.execute(
            "SELECT coalesce(sum(prompt_tokens), 0), coalesce(sum(calls), 0) FROM attempts"
        ).fetchone()
    finally:
        conn.close()
    return {
        "ok": statuses.get("ok", 0),
        "flagged": statuses.get("flagged", 0),
        "failed": statuses.get("failed", 0),
        "prompt_tokens": prompt_tokens,
        "calls": calls,
    }


def mock_stats(path: Path) -> dict:
    stats = json.loads(path.read_text(encoding="utf-8"))
    outcomes = stats["outcomes"]
    return {
        "requests": stats["requests"],
        "delivered": stats["delivered"],
        "limit_429": outcomes["limited"],
        "other_faults": sum(v for k, v in outcomes.items() if k not in ("ok", "limited")),
    }


def throughput(run: Path, papers: int, concurrency: int, latency_ms: float, wall: float, code: int) -> dict:
    ideal = math.ceil(papers / concurrency) * latency_ms / 1000.0
    time = gnu_time(run / "time.txt")
    figures = {
        "wall_s": wall,
        "ideal_s": ideal,
        "ratio": wall / ideal,
        "cpu_ms_per_paper": time["cpu_s"] * 1000.0 / papers,
        "peak_rss_mb": time["max_rss_kib"] / 1024.0,
        "exit": code,
        **mock_stats(run / "stats.json"),
        **store(run / "digest.db"),
    }
    print(
        f"  wall {wall:.2f} s / ideal {ideal:.2f} s = {figures['ratio']:.3f}; "
        f"cpu {figures['cpu_ms_per_paper']:.2f} ms/paper; peak RSS {figures['peak_rss_mb']:.1f} MB; "
        f"requests {figures['requests']}, ok/flagged/failed {figures['ok']}/{figures['flagged']}/{figures['failed']}, exit {code}"
    )
    return figures


def ratelimit(run: Path, tpm: int, rpm: int, max_output: int, wall: float, code: int) -> dict:
    s = store(run / "digest.db")
    m = mock_stats(run / "stats.json")
    # What the mock charged its token bucket: its prompt estimate (reported back as usage and
    # stored) plus max_tokens, for every request it admitted (every successful call: no faults here).
    tokens = s["prompt_tokens"] + s["calls"] * max_output
    minutes = wall / 60.0
    # The server's buckets start full, so in `minutes` it admits at most (1 + minutes) limits.
    allowance_tokens = tpm * (1.0 + minutes)
    allowance_requests = rpm * (1.0 + minutes)
    figures = {
        "wall_s": wall,
        "tokens": tokens,
        "tokens_per_min": tokens / minutes,
        "share_of_tpm_allowance": tokens / allowance_tokens,
        "share_of_rpm_allowance": s["calls"] / allowance_requests,
        "share_429": m["limit_429"] / max(m["requests"], 1),
        "exit": code,
        **m,
        **s,
    }
    print(
        f"  wall {wall:.1f} s; {tokens} tokens = {figures['tokens_per_min']:.0f}/min; "
        f"{100 * figures['share_of_tpm_allowance']:.1f}% of the token allowance "
        f"(T x (1 + minutes), the bucket starts full), {100 * figures['share_of_rpm_allowance']:.1f}% of the request allowance; "
        f"429s {m['limit_429']} of {m['requests']} requests ({100 * figures['share_429']:.2f}%); "
        f"ok/flagged/failed {s['ok']}/{s['flagged']}/{s['failed']}, exit {code}"
    )
    return figures


def median(runs: list) -> None:
    rows = [json.loads((Path(r) / "figures.json").read_text(encoding="utf-8")) for r in runs]
    keys = [k for k in rows[0] if all(isinstance(row.get(k), (int, float)) for row in rows)]
    parts = []
    for key in keys:
        value = statistics.median(row[key] for row in rows)
        parts.append(f"{key}={value:.3f}" if isinstance(value, float) and not value.is_integer() else f"{key}={value:g}")
    print(f"  median of {len(rows)}: " + " ".join(parts))


def main(argv: list) -> int:
    if len(argv) >= 2 and argv[0] == "median":
        median(argv[1:])
        return 0
    if len(argv) != 7 or argv[0] not in ("throughput", "ratelimit"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    run = Path(argv[1])
    a, b, c = int(argv[2]), int(argv[3]), float(argv[4])
    wall, code = float(argv[5]), int(argv[6])
    if argv[0] == "throughput":
        figures = throughput(run, a, b, c, wall, code)
    else:
        figures = ratelimit(run, a, b, int(c), wall, code)
    (run / "figures.json").write_text(json.dumps(figures), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
