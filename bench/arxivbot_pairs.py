#!/usr/bin/env python3
"""Writes the arxivbot-derived labelled pairs for `paper-digest eval-checks --pairs`.

Reads the real Korean summaries joined to their English abstracts
(`../shared/data/korean_summaries/arxivbot_ko_pairs.jsonl`) and builds the same set as
`tests/identity_eval.rs` (`labelled_set(rows, true)`): every summary with its own abstract (`match`)
and with one abstract of the same field picked by a fixed pseudo-random sequence (`mismatch`); the
batch of both is the summary's own day+category file. The output holds real data: write it outside
the repository.

    bench/arxivbot_pairs.py OUT.jsonl [ARXIVBOT_PAIRS.jsonl]

Exits 0 without writing when the shared data is absent (saying so), 2 on bad usage.
"""

import json
import os
import re
import sys

DEFAULT_INPUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..",
    "..",
    "shared",
    "data",
    "korean_summaries",
    "arxivbot_ko_pairs.jsonl",
)

# New-style IDs with an optional version, and old-style ones: what the project's ArxivId accepts
# from this file (anything else would be skipped by the Rust test and shift the partner picks).
ARXIV_ID = re.compile(r"^(\d{4}\.\d{4,5}|[a-z\-]+(\.[A-Z]{2})?/\d{7})(v\d+)?$")

MASK = (1 << 64) - 1
MULTIPLIER = 6364136223846793005
INCREMENT = 1442695040888963407


def rows_of(path: str) -> list:
    """The rows `arxivbot_rows` keeps, in file order, with the same fields."""
    rows = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            row = row_of(line.rstrip("\n").rstrip("\r"))
            if row is not None:
                rows.append(row)
    return rows


def row_of(line: str):
    try:
        v = json.loads(line)
    except ValueError:
        return None
    arxiv_id = v.get("arxiv_id")
    if not isinstance(arxiv_id, str):
        return None
    if not ARXIV_ID.match(arxiv_id):
        raise SystemExit(f"unexpected arXiv ID form {arxiv_id!r}: extend ARXIV_ID to match the Rust parser")
    title = v.get("title_hf") if isinstance(v.get("title_hf"), str) else v.get("title_in_log")
    sections = v.get("korean_summary_sections")
    source = v.get("summary_source")
    abstract = v.get("abstract_en")
    if not isinstance(title, str) or not isinstance(sections, dict) or not isinstance(abstract, str):
        return None
    path = source.get("path") if isinstance(source, dict) else None
    if not isinstance(path, str):
        return None
    # The Rust test joins the sections in key order (serde_json's map is sorted by key).
    summary = "\n".join(sections[k] for k in sorted(sections) if isinstance(sections[k], str))
    category = path.rsplit("/", 1)[-1]
    while category.endswith(".md"):
        category = category[: -len(".md")]
    field = v.get("listing_category_section")
    return {
        "id": arxiv_id,
        "title": title,
        "abstract": abstract,
        "summary": summary,
        "field": field if isinstance(field, str) else category,
        "batch": path,
    }


def partner(index: int, pool: list):
    """The same-field partner `tests/identity_eval.rs` picks (64-bit LCG seeded by the index)."""
    if len(pool) < 2:
        return None
    state = (index * MULTIPLIER + INCREMENT) & MASK
    while True:
        state = (state * MULTIPLIER + INCREMENT) & MASK
        pick = pool[(state >> 33) % len(pool)]
        if pick != index:
            return pick


def pair(summary_of: dict, source: dict, label: str) -> dict:
    return {
        "arxiv_id": source["id"],
        "title": source["title"],
        "abstract": source["abstract"],
        "summary": summary_of["summary"],
        "label": label,
        "batch": summary_of["batch"],
    }


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    source = sys.argv[2] if len(sys.argv) == 3 else DEFAULT_INPUT
    if not os.path.isfile(source):
        print(f"skipped: {source} is absent", file=sys.stderr)
        return 0
    rows = rows_of(source)
    by_field = {}
    for i, row in enumerate(rows):
        by_field.setdefault(row["field"], []).append(i)
    written = 0
    with open(sys.argv[1], "w", encoding="utf-8") as out:
        for i, row in enumerate(rows):
            pairs = [pair(row, row, "match")]
            j = partner(i, by_field[row["field"]])
            if j is not None:
                pairs.append(pair(row, rows[j], "mismatch"))
            for p in pairs:
                out.write(json.dumps(p, ensure_ascii=False) + "\n")
                written += 1
    print(f"{len(rows)} summaries, {written} pairs written to {sys.argv[1]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
