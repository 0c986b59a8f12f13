"""Daft's Ray runner: repeated shuffles over collected frames, as Daft leaves them (collect) vs runner.persist.

Each round ranks 20,000 rows with a window (a shuffle), keeps the result, groups it (another shuffle) and keeps
that too, as a pipeline keeps its runs and evaluations. With
plain ``collect()`` every round is slower than the one before on Daft 0.7.26 (a pipeline of such steps hung);
with :func:`daft_retrieval.runner.persist` (coalesced to one partition per CPU, then collected) the rounds stay
flat. Each mode runs on its own fresh local cluster (``num_cpus=2``), in a subprocess.

    DAFT_ANALYTICS_ENABLED=0 python benchmarks/ray_collected_shuffles.py [--rounds 8]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")
os.environ.setdefault("DAFT_PROGRESS_BAR", "0")


def _rounds(mode: str, rounds: int) -> list[float]:
    import daft
    import numpy as np
    from daft import Window, col
    from daft.functions import row_number

    from daft_retrieval.runner import persist, ray_runner

    with ray_runner(num_cpus=2):
        rng = np.random.default_rng(0)
        n = 20_000
        base = daft.from_pydict(
            {
                "q": rng.integers(0, 300, n).astype(str).tolist(),
                "d": rng.integers(0, 3000, n).astype(str).tolist(),
                "s": rng.random(n).tolist(),
            }
        )
        keep = (lambda f: f.collect()) if mode == "collect" else persist
        times, kept = [], []
        for _ in range(rounds):
            start = time.perf_counter()
            ranked = keep(base.with_column("r", row_number().over(Window().partition_by("q").order_by("s", desc=True))))
            kept.append(keep(ranked.groupby("q").agg(col("s").mean())))  # results held, as a pipeline holds them
            times.append(time.perf_counter() - start)
        return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--timeout", type=int, default=300, help="seconds per mode before it counts as hung")
    parser.add_argument("--mode", choices=["collect", "persist"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.mode:  # the child: one mode on its own cluster
        print(json.dumps(_rounds(args.mode, args.rounds)))
        return
    results = {}
    for mode in ("collect", "persist"):
        cmd = [sys.executable, __file__, "--mode", mode, "--rounds", str(args.rounds)]
        env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, env=env, check=True)
            results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
        except subprocess.TimeoutExpired:
            results[mode] = None
            subprocess.run([sys.executable, "-m", "ray.scripts.scripts", "stop", "--force"], capture_output=True)
    print(f"{'round':>5}  {'collect (s)':>11}  {'persist (s)':>11}")
    for i in range(args.rounds):
        row = [results[m][i] if results[m] and i < len(results[m]) else None for m in ("collect", "persist")]
        print(f"{i + 1:>5}  " + "  ".join(f"{t:>11.2f}" if t is not None else f"{'hung':>11}" for t in row))
    if results["collect"] and results["persist"]:
        c, p = sum(results["collect"]), sum(results["persist"])
        print(f"total: collect {c:.1f} s, persist {p:.1f} s: persist {c / p:.1f}x faster")


if __name__ == "__main__":
    main()
