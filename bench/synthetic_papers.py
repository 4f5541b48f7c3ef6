#!/usr/bin/env python3
"""Writes N synthetic papers as one Hugging Face `api/daily_papers` response, for the benchmarks.

Same shape as the soak tests' generator (tests/soak_support): IDs 2411.00001..., and every paper
has its own name, terms and figures, so the identity checks can tell the summaries apart.

    bench/synthetic_papers.py N OUT.json
"""

import json
import sys


def paper(i: int) -> dict:
    name = f"Q{i}Former"
    title = f"{name}: Sparse Routing for Long-Context Modeling"
    abstract = (
        f"We present {name}, a sparse routing model built on the K{i}-Router module and "
        f"trained on the Z{i}Corpus collection. {name} reduces attention memory by {10 + i % 80}% "
        f"while keeping accuracy on the Z{i}Bench suite, and reaches a score of "
        f"{40 + i % 50}.{i % 10} where the strongest baseline reaches {30 + i % 40}.{(i + 3) % 10}. "
        "Code and checkpoints are released."
    )
    arxiv_id = f"2411.{i:05d}"
    return {
        "paper": {
            "id": arxiv_id,
            "authors": [{"_id": f"a{i}", "name": f"Author {i}", "hidden": False}],
            "publishedAt": "2024-11-04T12:00:00.000Z",
            "title": title,
            "summary": abstract,
            "upvotes": i % 17,
        },
        "publishedAt": "2024-11-05T06:00:00.000Z",
        "title": title,
        "summary": abstract,
        "thumbnail": f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{arxiv_id}.png",
        "numComments": 0,
    }


def main() -> int:
    if len(sys.argv) != 3 or not sys.argv[1].isdigit() or int(sys.argv[1]) < 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    count = int(sys.argv[1])
    if count > 99_999:
        print(f"at most 99999 papers (5-digit IDs), not {count}", file=sys.stderr)
        return 2
    with open(sys.argv[2], "w", encoding="utf-8") as out:
        json.dump([paper(i) for i in range(1, count + 1)], out, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
