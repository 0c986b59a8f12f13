"""Embedding cache: a first and a second run of the same dense evaluation, each a fresh CLI process.

Run 1 encodes SciFact (5,183 passages, 300 queries) with all-MiniLM-L6-v2 into an empty cache; run 2 is the same
command (goal: >= 20x faster); run 3 edits 50 passages (a copy of the collection in a temporary folder) and must
re-encode exactly 50 texts (counted by the cache). Prints wall times, the ratio, the counts and the nDCG@10 of each
run (equal for runs 1 and 2).

    DAFT_ANALYTICS_ENABLED=0 python benchmarks/cache.py [--dataset ../shared/datasets/scifact]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ENV = {**os.environ, "DAFT_ANALYTICS_ENABLED": "0", "DAFT_PROGRESS_BAR": "0", "HF_HUB_OFFLINE": "1"}


def run(dataset: str, cache: str) -> tuple[float, dict]:
    cmd = [sys.executable, "-m", "daft_retrieval", "eval", "--dataset", dataset, "--cache", cache, "--json"]
    cmd += ["-m", "nDCG@10", "R@100"]
    t = time.perf_counter()
    out = subprocess.run(cmd, env=ENV, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - t
    return seconds, json.loads(out.stdout.strip().splitlines()[-1])


def misses(cache: str) -> tuple[int, int]:
    cmd = [sys.executable, "-m", "daft_retrieval", "cache", "stats", "--cache", cache, "--json"]
    counts = json.loads(subprocess.run(cmd, env=ENV, capture_output=True, text=True, check=True).stdout)["last_run"]
    values = counts.get("counts", {}).values()
    return sum(c["hits"] for c in values), sum(c["misses"] for c in values)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--dataset", default=os.path.join(here, "..", "..", "shared", "datasets", "scifact"))
    parser.add_argument("--edits", type=int, default=50)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        cache = os.path.join(tmp, "cache")
        first_s, first = run(args.dataset, cache)
        h1, m1 = misses(cache)
        second_s, second = run(args.dataset, cache)
        h2, m2 = misses(cache)
        print(f"{'run':<28}{'seconds':>9}{'hits':>8}{'misses':>8}  nDCG@10")
        print(f"{'1: empty cache':<28}{first_s:>9.1f}{h1:>8}{m1:>8}  {first['nDCG@10']:.4f}")
        print(f"{'2: same command':<28}{second_s:>9.1f}{h2:>8}{m2:>8}  {second['nDCG@10']:.4f}")
        print(f"second run {first_s / second_s:.1f}x faster (goal >= 20x); same numbers: {first == second}")

        edited = os.path.join(tmp, "edited")
        shutil.copytree(args.dataset, edited)
        with open(os.path.join(edited, "corpus.jsonl")) as fh:
            lines = [json.loads(line) for line in fh]
        for doc in lines[: args.edits]:
            doc["text"] = (doc.get("text") or "") + " (edited)"
        with open(os.path.join(edited, "corpus.jsonl"), "w") as fh:
            fh.writelines(json.dumps(doc) + "\n" for doc in lines)
        third_s, third = run(edited, cache)
        h3, m3 = misses(cache)
        print(
            f"{'3: ' + str(args.edits) + ' passages edited':<28}{third_s:>9.1f}{h3:>8}{m3:>8}  {third['nDCG@10']:.4f}"
        )
        print(f"re-encoded after editing {args.edits} passages: {m3} (expected {args.edits})")


if __name__ == "__main__":
    main()
