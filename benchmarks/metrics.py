"""Metrics speed: our Daft aggregation vs pytrec_eval and ranx on a synthetic run (default 10,000 queries x 1,000
docs).

Measures nDCG@10, R@100, AP@100, MRR@10 (pytrec_eval: ndcg_cut.10, recall.100, map_cut.100, recip_rank over the
top 10; ranx: ndcg@10, recall@100, map@100, mrr@10). Every side starts from the same in-memory Arrow table;
pytrec_eval's time is shown with and without building the nested dicts it needs, ranx's with and without building
its Qrels/Run (from pandas frames), after a warm-up that compiles its numba kernels. Our values are checked equal to
pytrec_eval's before times are printed; ranx's are printed beside them (it breaks score ties in its own order and
its map@k divides by min(k, relevant), so it need not agree with trec_eval to the last digit).

Then every measure family at once (each registry example, plus nDCG with exponential gain), timed against the four.

    DAFT_ANALYTICS_ENABLED=0 python benchmarks/metrics.py [--queries 10000] [--docs 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import math
import os
import time

os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")
os.environ.setdefault("DAFT_PROGRESS_BAR", "0")

import daft
import numpy as np
import pyarrow as pa

from daft_retrieval.evaluation import evaluate

MEASURES = ["nDCG@10", "R@100", "AP@100", "MRR@10"]


def synthetic(n_queries: int, n_docs: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    qids = np.char.add("q", np.repeat(np.arange(n_queries), n_docs).astype(str))
    dids = np.char.add(
        "d",
        (
            rng.permuted(np.tile(np.arange(n_docs * 5), n_queries).reshape(n_queries, -1), axis=1)[:, :n_docs].ravel()
        ).astype(str),
    )
    scores = np.round(rng.random(n_queries * n_docs), 4)  # rounded: plenty of ties
    run = pa.table({"query_id": qids, "doc_id": dids, "score": scores})
    jq = np.char.add("q", np.repeat(np.arange(n_queries), 10).astype(str))
    jd = np.char.add("d", rng.integers(0, n_docs * 5, n_queries * 10).astype(str))
    qrels = pa.table({"query_id": jq, "doc_id": jd, "relevance": rng.integers(0, 3, n_queries * 10)})
    qrels = pa.Table.from_pylist(list({(r["query_id"], r["doc_id"]): r for r in qrels.to_pylist()}.values()))
    return run, qrels


def ours(run: pa.Table, qrels: pa.Table) -> dict[str, float]:
    return evaluate(daft.from_arrow(run), daft.from_arrow(qrels), MEASURES).aggregate


def to_dicts(run: pa.Table, qrels: pa.Table):
    run_d: dict = {}
    for q, d, s in zip(*(run.column(c).to_pylist() for c in ("query_id", "doc_id", "score"))):
        run_d.setdefault(q, {})[d] = s
    qrels_d: dict = {}
    for q, d, r in zip(*(qrels.column(c).to_pylist() for c in ("query_id", "doc_id", "relevance"))):
        qrels_d.setdefault(q, {})[d] = r
    return run_d, qrels_d


def reference(run_d, qrels_d) -> dict[str, float]:
    import pytrec_eval

    ev = pytrec_eval.RelevanceEvaluator(qrels_d, {"ndcg_cut.10", "recall.100", "map_cut.100", "recip_rank"})
    res = ev.evaluate(run_d)
    top10 = {q: dict(sorted(ds.items(), key=lambda x: (x[1], x[0]), reverse=True)[:10]) for q, ds in run_d.items()}
    rr = ev.evaluate(top10)
    n = len(qrels_d)
    return {
        "nDCG@10": sum(v["ndcg_cut_10"] for v in res.values()) / n,
        "R@100": sum(v["recall_100"] for v in res.values()) / n,
        "AP@100": sum(v["map_cut_100"] for v in res.values()) / n,
        "MRR@10": sum(v["recip_rank"] for v in rr.values()) / n,
    }


RANX = {"nDCG@10": "ndcg@10", "R@100": "recall@100", "AP@100": "map@100", "MRR@10": "mrr@10"}


def ranx_frames(run: pa.Table, qrels: pa.Table):
    """ranx's Qrels and Run, built from pandas frames of the Arrow tables."""
    import ranx

    frames = []
    for table in (qrels, run):
        frame = table.to_pandas()
        frame[["query_id", "doc_id"]] = frame[["query_id", "doc_id"]].astype(object)  # ranx asks for object ids
        frames.append(frame)
    q = ranx.Qrels.from_df(frames[0], q_id_col="query_id", doc_id_col="doc_id", score_col="relevance")
    r = ranx.Run.from_df(frames[1], q_id_col="query_id", doc_id_col="doc_id", score_col="score")
    return q, r


def ranx_evaluate(qrels_r, run_r) -> dict[str, float]:
    import ranx

    values = ranx.evaluate(qrels_r, run_r, list(RANX.values()))
    return {m: float(values[RANX[m]]) for m in MEASURES}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=10_000)
    ap.add_argument("--docs", type=int, default=1_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-all", action="store_true", help="skip the every-measure run")
    args = ap.parse_args()
    run, qrels = synthetic(args.queries, args.docs)
    print(f"run: {run.num_rows:,} rows ({args.queries:,} queries x {args.docs:,} docs), qrels: {qrels.num_rows:,}")
    try:
        import ranx  # noqa: F401
    except ImportError:
        ranx_ok = False
        print("ranx is not installed (pip install ranx): its columns are left out")
    else:
        ranx_ok = True
        small_run, small_qrels = synthetic(20, 50, seed=1)
        ranx_evaluate(*ranx_frames(small_run, small_qrels))  # warm-up: numba compiles its kernels
    t_ours, t_ref, t_dicts, t_ranx, t_ranx_frames = [], [], [], [], []
    for _ in range(args.repeat):  # alternate, best of N: the machine is noisy
        t = time.perf_counter()
        ours_values = ours(run, qrels)
        t_ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        run_d, qrels_d = to_dicts(run, qrels)
        t_dicts.append(time.perf_counter() - t)
        t = time.perf_counter()
        ref_values = reference(run_d, qrels_d)
        t_ref.append(time.perf_counter() - t)
        del run_d, qrels_d
        if ranx_ok:
            t = time.perf_counter()
            frames = ranx_frames(run, qrels)
            t_ranx_frames.append(time.perf_counter() - t)
            t = time.perf_counter()
            ranx_values = ranx_evaluate(*frames)
            t_ranx.append(time.perf_counter() - t)
            del frames
    for m in MEASURES:
        assert math.isclose(ours_values[m], ref_values[m], abs_tol=1e-9), (m, ours_values[m], ref_values[m])
        beside = f"  ranx {ranx_values[m]:.6f}" if ranx_ok else ""
        print(f"  {m:8s} ours {ours_values[m]:.6f}  pytrec_eval {ref_values[m]:.6f}{beside}")
    o, r, d = min(t_ours), min(t_ref), min(t_dicts)
    print(f"daft_retrieval.evaluation      {o:7.2f} s")
    print(f"pytrec_eval (evaluate only)  {r:7.2f} s   ratio {r / o:5.2f}x")
    print(f"pytrec_eval (+ dict build)   {r + d:7.2f} s   ratio {(r + d) / o:5.2f}x")
    if not args.no_all:
        from daft_retrieval import registry

        every = [e.info["example"] for e in registry.MEASURES.entries()] + ["nDCG(dcg='exp-log2')@10"]
        t_all = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            evaluate(daft.from_arrow(run), daft.from_arrow(qrels), every)
            t_all.append(time.perf_counter() - t)
        a = min(t_all)
        print(f"all {len(every)} measures at once      {a:7.2f} s   {a / o:5.2f}x the four")
    if ranx_ok:
        x, f = min(t_ranx), min(t_ranx_frames)
        print(f"ranx (evaluate only)         {x:7.2f} s   ratio {x / o:5.2f}x")
        print(f"ranx (+ Qrels/Run build)     {x + f:7.2f} s   ratio {(x + f) / o:5.2f}x")


if __name__ == "__main__":
    main()
