#!/usr/bin/env python3
"""Writes N synthetic labelled pairs for `paper-digest eval-checks`, all in ONE batch, to measure how
the identity checks' cost per summary grows with the batch.

The papers are bench/synthetic_papers.py's (every one shares the common words, each has its own name,
terms and figures). Each gets a Korean summary written the way the mock model writes them (naming the
work, quoting its distinctive terms and figures) as a `match`; with `--swaps`, every tenth summary is
also paired with the next paper's abstract as a `mismatch`, so the contrast has swaps to find too.

    bench/identity_pairs_synthetic.py N OUT.jsonl [--swaps]
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from synthetic_papers import paper  # noqa: E402

SWAP_EVERY = 10


def summary(i: int) -> str:
    name = f"Q{i}Former"
    return "\n".join(
        [
            f"이 논문은 {name}을(를) 소개합니다. 긴 문맥 모델링에서 어텐션 메모리가 커지는 한계를 짚고, "
            "희소 라우팅으로 이를 해결하는 새로운 방향을 제시합니다.",
            f"{name}은(는) K{i}-Router, Z{i}Corpus을(를) 핵심 요소로 사용합니다. 각 구성 요소의 역할과 "
            "학습 과정을 차례로 설명합니다.",
            f"실험에서 {name}은(는) {10 + i % 80}%, {40 + i % 50}.{i % 10}의 결과를 보고하며, "
            f"Z{i}Bench에서 기존 방법과 비교해 의미 있는 개선을 확인했습니다.",
        ]
    )


def record(summary_of: int, source: dict, label: str) -> dict:
    return {
        "arxiv_id": source["id"],
        "title": source["title"],
        "abstract": source["summary"],
        "summary": summary(summary_of),
        "label": label,
        "batch": "all",
    }


def main() -> int:
    args = [a for a in sys.argv[1:] if a != "--swaps"]
    swaps = "--swaps" in sys.argv[1:]
    if len(args) != 2 or not args[0].isdigit() or not 2 <= int(args[0]) <= 99_999:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    count = int(args[0])
    papers = [paper(i)["paper"] for i in range(1, count + 1)]
    with open(args[1], "w", encoding="utf-8") as out:
        for i, source in enumerate(papers, start=1):
            out.write(json.dumps(record(i, source, "match"), ensure_ascii=False) + "\n")
            if swaps and i % SWAP_EVERY == 0:
                other = papers[i % count]
                out.write(json.dumps(record(i, other, "mismatch"), ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
