"""Approximate dense indexes: build and search time, peak RSS, size on disk and Overlap@10 of each FAISS index
against our exact search, on the same vectors.

Default: 1,000,000 x 384 float32 documents and 1,000 queries. The vectors are clustered (2,000 Gaussian centres,
each document a centre plus noise; each query a document plus noise), as embeddings are: on structureless random
vectors in 384 dimensions every approximate index looks worse than it is on real data. Each index runs in its own
subprocess (its peak RSS is its own): ``exact`` (our vector index, :mod:`daft_retrieval.index.vector`), then each
``--index`` factory (default ``Flat``, ``HNSW32``, ``IVF1024,Flat``, ``IVF1024,PQ32``) built by
:func:`daft_retrieval.index.faiss.build_faiss_index` and searched with the default options (ef_search 64, nprobe 8,
refine 1; change them with --ef-search/--nprobe). Overlap@10 = share of the exact top 10 each returns
(:func:`daft_retrieval.evaluation.overlap.overlap`).

    DAFT_ANALYTICS_ENABLED=0 python benchmarks/index.py [--docs 1000000] [--queries 1000] [--index HNSW32 ...]
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

FACTORIES = ["Flat", "HNSW32", "IVF1024,Flat", "IVF1024,PQ32"]
K = 10


def make_data(folder: str, docs: int, queries: int, dim: int, centres: int = 2000, seed: int = 0) -> None:
    """``docs.parquet`` (doc_id, embedding) and ``queries.parquet`` (query_id, embedding), clustered vectors."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    means = rng.standard_normal((centres, dim), dtype=np.float32)
    parts = []
    for start in range(0, docs, 200_000):
        n = min(200_000, docs - start)
        m = means[rng.integers(0, centres, n)] + 0.6 * rng.standard_normal((n, dim), dtype=np.float32)
        vectors = pa.FixedSizeListArray.from_arrays(pa.array(m.ravel()), dim)
        parts.append(pa.table({"doc_id": [f"d{i}" for i in range(start, start + n)], "embedding": vectors}))
    pq.write_table(pa.concat_tables(parts), os.path.join(folder, "docs.parquet"))
    picked = pq.read_table(os.path.join(folder, "docs.parquet")).take(rng.choice(docs, queries, replace=False))
    q = picked.column("embedding").combine_chunks().flatten().to_numpy().reshape(queries, dim)
    q = q + 0.6 * rng.standard_normal(q.shape, dtype=np.float32)
    table = pa.table(
        {"query_id": [f"q{i}" for i in range(queries)], "embedding": pa.FixedSizeListArray.from_arrays(q.ravel(), dim)}
    )
    pq.write_table(table, os.path.join(folder, "queries.parquet"))


def folder_mb(path: str) -> float:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs) / 2**20


def one_side(folder: str, index: str, options: dict) -> dict:
    """Build then search one index; the run as rows, times, size."""
    import daft

    from daft_retrieval.index.faiss import build_faiss_index
    from daft_retrieval.index.vector import build_vector_index
    from daft_retrieval.retrieve.dense import search_faiss_index, search_vector_index

    docs = daft.read_parquet(os.path.join(folder, "docs.parquet"))
    path = os.path.join(folder, "index-" + index.replace(",", "_"))
    t = time.perf_counter()
    built = build_vector_index(docs, path) if index == "exact" else build_faiss_index(docs, path, index)
    build_s = time.perf_counter() - t
    queries = daft.read_parquet(os.path.join(folder, "queries.parquet"))
    t = time.perf_counter()
    if index == "exact":
        run = search_vector_index(built, queries, K).to_arrow()
    else:
        run = search_faiss_index(built, queries, K, options).to_arrow()
    search_s = time.perf_counter() - t
    rows = {c: run.column(c).to_pylist() for c in ("query_id", "doc_id", "score", "rank")}
    return {"build_s": build_s, "search_s": search_s, "disk_mb": folder_mb(path), "run": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=1_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--index", nargs="+", default=FACTORIES, help="FAISS factory strings (default: %(default)s)")
    ap.add_argument("--ef-search", type=int, default=64)
    ap.add_argument("--nprobe", type=int, default=8)
    ap.add_argument("--side", help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    args = ap.parse_args()
    options = {"ef_search": args.ef_search, "nprobe": args.nprobe}
    if args.side:  # child: one index, result as JSON on the last line
        result = one_side(args.folder, args.side, options)
        result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return

    import daft

    from daft_retrieval.evaluation.overlap import overlap

    print(f"{args.docs:,} x {args.dim} clustered float32 documents, {args.queries:,} queries, top {K}, cosine")
    print(f"FAISS search options: ef_search {args.ef_search}, nprobe {args.nprobe}, refine 1")
    with tempfile.TemporaryDirectory() as folder:
        t = time.perf_counter()
        make_data(folder, args.docs, args.queries, args.dim)
        print(f"data made in {time.perf_counter() - t:.1f} s")
        fp32_mb = args.docs * args.dim * 4 / 2**20
        print(f"{'index':16s} {'build s':>8s} {'search s':>9s} {'peak MB':>8s} {'disk MB':>8s} {'Overlap@10':>10s}")
        exact = None
        for index in ["exact", *args.index]:
            cmd = [sys.executable, __file__, "--side", index, "--folder", folder, "--nprobe", str(args.nprobe)]
            cmd += ["--ef-search", str(args.ef_search)]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"{index:16s} failed: {done.stderr.strip().splitlines()[-1:]}")
                continue
            out = json.loads(done.stdout.splitlines()[-1])
            run = daft.from_pydict(out["run"])
            exact = run if index == "exact" else exact
            share = overlap(run, exact, k=K).aggregate["Overlap@10"] if exact is not None else float("nan")
            print(
                f"{index:16s} {out['build_s']:8.1f} {out['search_s']:9.2f} {out['peak_mb']:8.0f} "
                f"{out['disk_mb']:8.0f} {share:10.4f}"
            )
        print(f"(fp32 vectors alone: {fp32_mb:.0f} MB; disk = the whole index folder, vectors included)")


if __name__ == "__main__":
    main()
