"""Exact vector search: our sharded VectorSearcher vs numpy matmul + argpartition on the same data.

Default: top-100 of 1,000 queries over 1,000,000 x 384 random float32 vectors (cosine). Prints both times, the
ratio numpy/ours (goal >= 0.5), the top-k agreement, and peak RSS of each side (each side runs in its own
subprocess, so peaks do not mix).

    python benchmarks/search.py [--docs 1000000] [--queries 1000] [--dim 384] [--k 100]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")
os.environ.setdefault("DAFT_PROGRESS_BAR", "0")


def make_data(folder: str, docs: int, queries: int, dim: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    for name, n in (("docs", docs), ("queries", queries)):
        key = "doc_id" if name == "docs" else "query_id"
        table_parts = []
        for start in range(0, n, 200_000):
            m = rng.standard_normal((min(200_000, n - start), dim), dtype=np.float32)
            ids = pa.array([f"{name[0]}{i}" for i in range(start, start + len(m))])
            vec = pa.FixedSizeListArray.from_arrays(pa.array(m.ravel()), dim)
            table_parts.append(pa.table({key: ids, "embedding": vec}))
        pq.write_table(pa.concat_tables(table_parts), os.path.join(folder, f"{name}.parquet"))


def run_numpy(folder: str, dim: int, k: int) -> dict:
    import numpy as np
    import pyarrow.parquet as pq

    from daft_retrieval.index.vector import to_matrix

    t = time.perf_counter()
    docs = pq.read_table(os.path.join(folder, "docs.parquet"))
    queries = pq.read_table(os.path.join(folder, "queries.parquet"))
    d, q = to_matrix(docs.column("embedding"), dim), to_matrix(queries.column("embedding"), dim)
    d = d / np.linalg.norm(d, axis=1, keepdims=True)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    ids = np.asarray(docs.column("doc_id").to_pylist(), dtype=object)
    top: dict[str, list[str]] = {}
    qids = queries.column("query_id").to_pylist()
    block = max(1, (1 << 26) // len(d))
    for s in range(0, len(q), block):
        scores = q[s : s + block] @ d.T
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1)
        for i, row in enumerate(np.take_along_axis(part, order, axis=1)):
            top[qids[s + i]] = ids[row].tolist()
    return {"seconds": time.perf_counter() - t, "top": top}


def run_ours(folder: str, dim: int, k: int) -> dict:
    import daft

    from daft_retrieval import schema as S
    from daft_retrieval.index.vector import build_vector_index
    from daft_retrieval.retrieve.dense import search_vector_index

    index = build_vector_index(daft.read_parquet(os.path.join(folder, "docs.parquet")), os.path.join(folder, "index"))
    t = time.perf_counter()
    run = search_vector_index(index, daft.read_parquet(os.path.join(folder, "queries.parquet")), k).to_pylist()
    seconds = time.perf_counter() - t
    top: dict[str, list[str]] = {}
    for r in sorted(run, key=lambda r: r[S.RANK]):
        top.setdefault(r[S.QUERY_ID], []).append(r[S.DOC_ID])
    return {"seconds": seconds, "top": top}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=1_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--side", choices=["numpy", "ours"], help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:  # child: one side, result as JSON on the last line
        result = (run_numpy if args.side == "numpy" else run_ours)(args.folder, args.dim, args.k)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as folder:
        make_data(folder, args.docs, args.queries, args.dim)
        out = {}
        for side in ("numpy", "ours"):
            cmd = [
                sys.executable,
                __file__,
                "--side",
                side,
                "--folder",
                folder,
                "--dim",
                str(args.dim),
                "--k",
                str(args.k),
            ]
            out[side] = json.loads(
                subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1]
            )
    agree = sum(len(set(out["ours"]["top"][q]) & set(v)) for q, v in out["numpy"]["top"].items())
    total = sum(len(v) for v in out["numpy"]["top"].values())
    print(f"top-{args.k} of {args.queries:,} queries over {args.docs:,} x {args.dim} float32 (cosine)")
    for side in ("numpy", "ours"):
        print(f"{side:6s} {out[side]['seconds']:8.2f} s   peak RSS {out[side]['peak_rss_mb']:8.0f} MB")
    print(
        f"ratio numpy/ours {out['numpy']['seconds'] / out['ours']['seconds']:.2f} (goal >= 0.5); "
        f"top-k overlap {agree / total:.4%}"
    )


if __name__ == "__main__":
    main()
