"""BM25 speed: ours (Daft postings) vs bm25s vs rank_bm25, on SciFact and on a synthetic Zipfian corpus.

Each system runs in its own forked child so its peak RSS (``wait4`` rusage ``ru_maxrss``, minus the child's RSS
at fork) is its own. Times: "index" = tokenise + build the index; "search" = tokenise the queries + top-100 for
every query. Same settings everywhere: Lucene BM25, k1 = 1.2, b = 0.75, bm25s's default regex tokenizer, no
stopwords, no stemming (rank_bm25 is BM25Okapi with its own idf, fed the same tokens). rank_bm25 scores every
document for every query in Python, so on big corpora it runs on ``--rank-bm25-docs`` documents and
``--rank-bm25-queries`` queries and its times are extrapolated linearly (index ~ docs, search ~ docs x queries);
the output says when it did.

    DAFT_ANALYTICS_ENABLED=0 python benchmarks/bm25.py [--docs 1000000] [--queries 10000] [--scifact PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np

os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")
os.environ.setdefault("DAFT_PROGRESS_BAR", "0")
os.environ.setdefault("DISABLE_TQDM", "1")


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def in_child(fn: Callable[[], dict]) -> dict:
    """Run ``fn`` in a forked child; return its result dict plus ``peak_mb`` (peak RSS above the RSS at fork)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read)
        start = _rss_mb()
        try:
            out = fn()
            out["start_mb"] = start
        except BaseException as e:  # report, never raise past the fork
            out = {"error": repr(e)}
        with os.fdopen(write, "w") as fh:
            json.dump(out, fh)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as fh:
        data = fh.read()
    _, _, usage = os.wait4(pid, 0)
    out = json.loads(data) if data else {"error": "child died"}
    out["peak_mb"] = usage.ru_maxrss / 1024 - out.get("start_mb", 0.0)
    return out


def synthetic(docs: int, queries: int, vocab: int, doc_len: int, query_len: int, seed: int = 0):
    """Texts over a Zipfian vocabulary (word rank r drawn with p ~ 1/r^1.1); lengths Poisson around the means."""
    rng = np.random.default_rng(seed)
    words = np.array([f"w{i:x}z" for i in range(vocab)], dtype=object)
    p = 1.0 / np.arange(1, vocab + 1) ** 1.1
    p /= p.sum()

    def texts(n: int, mean: int) -> list[str]:
        lengths = np.maximum(1, rng.poisson(mean, n))
        flat = words[rng.choice(vocab, size=int(lengths.sum()), p=p)]
        cuts = np.cumsum(lengths)[:-1]
        return [" ".join(chunk) for chunk in np.split(flat, cuts)]

    return texts(docs, doc_len), texts(queries, query_len)


def run_ours(doc_ids, doc_texts, query_ids, query_texts, k) -> dict:
    import daft

    from daft_retrieval.index.bm25 import BM25Index
    from daft_retrieval.retrieve.bm25 import bm25_search

    corpus = daft.from_pydict({"doc_id": doc_ids, "title": [""] * len(doc_ids), "text": doc_texts}).collect()
    queries = daft.from_pydict({"query_id": query_ids, "text": query_texts}).collect()
    t = time.perf_counter()
    tmp = tempfile.mkdtemp(prefix="bench-bm25-")
    index = BM25Index.build(corpus).save(os.path.join(tmp, "index"))  # searchers load the saved postings
    t_index = time.perf_counter() - t
    t = time.perf_counter()
    run = bm25_search(index, queries, k=k).collect()
    t_search = time.perf_counter() - t
    shutil.rmtree(tmp)
    return {"index_s": t_index, "search_s": t_search, "rows": run.count_rows()}


def run_bm25s(doc_ids, doc_texts, query_ids, query_texts, k, threads: int = 0) -> dict:
    import bm25s

    t = time.perf_counter()
    retriever = bm25s.BM25(method="lucene", k1=1.2, b=0.75)
    retriever.index(bm25s.tokenize(doc_texts, stopwords=None, show_progress=False), show_progress=False)
    t_index = time.perf_counter() - t
    t = time.perf_counter()
    tokens = bm25s.tokenize(query_texts, stopwords=None, return_ids=False, show_progress=False)
    docs, _ = retriever.retrieve(tokens, k=min(k, len(doc_texts)), show_progress=False, n_threads=threads)
    t_search = time.perf_counter() - t
    return {"index_s": t_index, "search_s": t_search, "rows": int(docs.size)}


def run_rank_bm25(doc_ids, doc_texts, query_ids, query_texts, k, max_docs: int, max_queries: int) -> dict:
    import re

    from rank_bm25 import BM25Okapi

    split = re.compile(r"(?u)\b\w\w+\b").findall
    n_docs, n_queries = min(max_docs, len(doc_texts)), min(max_queries, len(query_texts))
    t = time.perf_counter()
    bm25 = BM25Okapi([split(text.lower()) for text in doc_texts[:n_docs]], k1=1.2, b=0.75)
    t_index = time.perf_counter() - t
    t = time.perf_counter()
    for text in query_texts[:n_queries]:
        scores = bm25.get_scores(split(text.lower()))
        np.argpartition(-scores, min(k, n_docs - 1))[:k]
    t_search = time.perf_counter() - t
    doc_scale, query_scale = len(doc_texts) / n_docs, len(query_texts) / n_queries
    return {
        "index_s": t_index * doc_scale,
        "search_s": t_search * doc_scale * query_scale,
        "extrapolated": doc_scale > 1 or query_scale > 1,
        "measured_on": f"{n_docs} docs x {n_queries} queries",
    }


def load_scifact(path: str):
    def read(name):
        with open(os.path.join(path, name)) as fh:
            return [json.loads(line) for line in fh]

    corpus, queries = read("corpus.jsonl"), read("queries.jsonl")
    doc_ids = [d["_id"] for d in corpus]
    doc_texts = [f"{d.get('title') or ''} {d.get('text') or ''}".strip() for d in corpus]
    return doc_ids, doc_texts, [q["_id"] for q in queries], [q["text"] for q in queries]


def report(name: str, data, args) -> None:
    _, doc_texts, _, query_texts = data
    print(f"\n== {name}: {len(doc_texts):,} docs x {len(query_texts):,} queries, top {args.k}", flush=True)
    results = {
        "ours (daft)": in_child(lambda: run_ours(*data, args.k)),
        "bm25s": in_child(lambda: run_bm25s(*data, args.k)),
        "bm25s (all cores)": in_child(lambda: run_bm25s(*data, args.k, threads=-1)),
    }
    if not args.skip_rank_bm25:
        results["rank_bm25"] = in_child(
            lambda: run_rank_bm25(*data, args.k, args.rank_bm25_docs, args.rank_bm25_queries)
        )
    ours = results["ours (daft)"]
    print(f"{'system':<18}{'index s':>10}{'search s':>10}{'QPS':>10}{'peak MB':>10}  vs ours (index, search)")
    for system, r in results.items():
        if "error" in r:
            print(f"{system:<18} failed: {r['error']}")
            continue
        qps = len(query_texts) / r["search_s"] if r["search_s"] else float("inf")
        ratio = ""
        if system != "ours (daft)" and "error" not in ours:
            ratio = f"  {r['index_s'] / ours['index_s']:.2f}x, {r['search_s'] / ours['search_s']:.2f}x"
        note = f"  (extrapolated from {r['measured_on']})" if r.get("extrapolated") else ""
        print(f"{system:<18}{r['index_s']:>10.2f}{r['search_s']:>10.2f}{qps:>10.0f}{r['peak_mb']:>10.0f}{ratio}{note}")
    target = results["bm25s"]
    if "error" not in ours and "error" not in target:
        print(
            f"ours / bm25s (one thread), <= 1 meets the target: peak RSS {ours['peak_mb'] / target['peak_mb']:.2f}x, "
            f"index time {ours['index_s'] / target['index_s']:.2f}x, "
            f"search time {ours['search_s'] / target['search_s']:.2f}x, "
            f"total time {(ours['index_s'] + ours['search_s']) / (target['index_s'] + target['search_s']):.2f}x"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--vocab", type=int, default=200_000)
    parser.add_argument("--doc-len", type=int, default=60)
    parser.add_argument("--query-len", type=int, default=6)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument(
        "--scifact", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "datasets", "scifact")
    )
    parser.add_argument("--rank-bm25-docs", type=int, default=20_000)
    parser.add_argument("--rank-bm25-queries", type=int, default=100)
    parser.add_argument("--skip-rank-bm25", action="store_true")
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus; ratios > 1 mean ours is faster")
    if os.path.exists(os.path.join(args.scifact, "corpus.jsonl")):
        report("SciFact", load_scifact(args.scifact), args)
    t = time.perf_counter()
    doc_texts, query_texts = synthetic(args.docs, args.queries, args.vocab, args.doc_len, args.query_len)
    print(f"\n(synthetic corpus generated in {time.perf_counter() - t:.1f} s)")
    data = ([f"d{i}" for i in range(args.docs)], doc_texts, [f"q{i}" for i in range(args.queries)], query_texts)
    report(f"synthetic Zipf (vocab {args.vocab:,}, ~{args.doc_len} tokens/doc)", data, args)


if __name__ == "__main__":
    main()
