"""The same bits on every run: evaluation, fusion and BM25 give identical JSON bytes whatever the partitioning.

One computation (:func:`report`: BM25 on the bundled demo by both engines, evaluations, four fusions and the
evaluation of a fusion, on runs with full-mantissa scores) is repeated with its inputs shuffled and cut into 1 to
8 pieces (``into_partitions`` on Ray; on the native runner, where ``into_partitions`` is a no-op, the pieces are
concatenated frames), with different morsel sizes, on one thread or two, and on Ray. Each time the JSON
(``json.dumps``: floats as ``repr``) must be the same bytes. Daft's own ``sum()`` and ``mean()`` do change bits
under these changes (the first test shows it), so every float sum here must be order-independent.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Iterable

import daft
import numpy as np
import pyarrow as pa
import pytest
from daft import col, lit

from daft_retrieval import schema as S
from tests.conftest import ROOT, python_json

MEASURES = [
    "nDCG@10",
    "nDCG",
    "AP",
    "AP@20",
    "R@30",
    "P@5",
    "RR",
    "MRR@10",
    "R-Prec",
    "Success@3",
    "SetF",
    "Bpref",
    "Judged@10",
    "IPrec@0.2",
    "11pt",
    "GMAP",
    "RBP(p=0.9)",
    "ERR@10",
    "nDCG(dcg='exp-log2')@10",
    "nDCG(gains={1:1,2:4})@5",
]
PIECES = range(1, 9)
MORSELS = (None, 4096)  # Daft's default (128k rows), and smaller morsels: other chunks to add up


def synthetic(seed: int = 0, queries: int = 120, depth: int = 40) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Two runs and graded qrels: scores with full mantissas over many magnitudes (and some ties), so any
    change in summation order shows in the last bits."""
    rng = np.random.default_rng(seed)
    pool = np.array([f"d{i}" for i in range(150)])

    def run(scale: float, offset: float) -> pa.Table:
        q, d, s = [], [], []
        for i in range(queries):
            n = int(rng.integers(1, depth + 1))
            q += [f"q{i}"] * n
            d += list(rng.choice(pool, n, replace=False))
            scores = offset + scale * rng.standard_normal(n) * 10.0 ** rng.uniform(-2, 2, n)
            scores[rng.random(n) < 0.1] = offset  # ties, decided by doc id
            s += list(scores)
        return pa.table({S.QUERY_ID: q, S.DOC_ID: d, S.SCORE: s})

    qq, qd, rel = [], [], []
    for i in range(queries + 5):  # 5 judged queries that no run answers
        docs = rng.choice(pool, int(rng.integers(1, 25)), replace=False)
        qq += [f"q{i}"] * len(docs)
        qd += list(docs)
        rel += list(rng.integers(0, 4, len(docs)))
    return run(1.0, 0.0), run(3.0, 1e10), pa.table({S.QUERY_ID: qq, S.DOC_ID: qd, S.RELEVANCE: rel})


def pieces(table: pa.Table, n: int, seed: int) -> daft.DataFrame:
    """``table`` with its rows shuffled, as ``n`` concatenated frames (and ``n`` partitions on Ray)."""
    from daft_retrieval.runner import on_ray

    table = table.take(np.random.default_rng(seed).permutation(len(table)))
    bounds = np.linspace(0, len(table), n + 1).round().astype(int)
    frames = [daft.from_arrow(table.slice(a, b - a)) for a, b in itertools.pairwise(bounds.tolist())]
    frame = frames[0]
    for f in frames[1:]:
        frame = frame.concat(f)
    return frame.into_partitions(n) if on_ray() else frame


def _rows(run: daft.DataFrame) -> list:
    d = run.to_pydict()
    return sorted(zip(d[S.QUERY_ID], d[S.DOC_ID], d[S.SCORE], d[S.RANK]))


def _evaluation(result) -> dict:
    d = result.per_query.to_pydict()
    return {"aggregate": result.aggregate, "per_query": sorted(zip(d[S.QUERY_ID], d[S.MEASURE], d[S.VALUE]))}


def _bm25(n: int) -> dict:
    from daft_retrieval.index.bm25 import BM25Index
    from daft_retrieval.load import load_beir
    from daft_retrieval.retrieve.postings import search_postings
    from daft_retrieval.schema import TERM, VALUE, WEIGHT

    ds = load_beir(str(ROOT / "data" / "demo"))
    index = BM25Index.build(ds.corpus)
    terms = index.tokenizer.terms(ds.queries, S.QUERY_ID, col(S.TEXT)).with_column(VALUE, lit(1.0))
    rows = pieces(terms.select(S.QUERY_ID, TERM, VALUE).to_arrow(), n, seed=n)
    runs = {m: search_postings(rows, index.postings, 20, weight=WEIGHT, method=m) for m in ("impacts", "join")}
    return {"runs": {m: _rows(r) for m, r in runs.items()}, "qrels": ds.qrels.to_arrow()}


def report(n: int) -> bytes:
    """The JSON bytes of every number the computation gives, its inputs shuffled and cut into ``n`` pieces."""
    from daft_retrieval.evaluation import evaluate
    from daft_retrieval.fusion import comb_mnz, comb_sum, rrf, weighted_sum

    a, b, qrels = synthetic()
    run_a, run_b, judged = pieces(a, n, seed=n), pieces(b, n, seed=n + 100), pieces(qrels, n, seed=n + 200)
    fused = {
        "rrf": rrf([run_a, run_b]),
        "wsum-zmuv": weighted_sum([run_a, run_b], [0.7, 0.3], norm="zmuv"),
        "combsum-sum": comb_sum([run_a, run_b], norm="sum"),
        "combmnz": comb_mnz([run_b, run_a]),
    }
    out = {
        "a": _evaluation(evaluate(run_a, judged, MEASURES)),
        "b-both": _evaluation(evaluate(run_b, judged, MEASURES, queries="both")),
        "fused": {name: _rows(run) for name, run in fused.items()},
        "wsum-zmuv": _evaluation(evaluate(fused["wsum-zmuv"], judged, MEASURES)),
    }
    bm25 = _bm25(n)
    out["bm25"] = bm25["runs"]
    judged_demo = daft.from_arrow(bm25["qrels"])
    out["bm25-eval"] = _evaluation(evaluate(pieces(_table(bm25["runs"]["join"]), n, n), judged_demo, MEASURES))
    return json.dumps(out, sort_keys=True).encode()


def _table(rows: list) -> pa.Table:
    q, d, s, _ = zip(*rows)
    return pa.table({S.QUERY_ID: list(q), S.DOC_ID: list(d), S.SCORE: list(s)})


def digests(morsel: int | None = None, cuts: Iterable[int] = PIECES) -> list[str]:
    """sha256 of :func:`report` for each number of pieces in ``cuts`` (with a morsel size, when given)."""
    config = {} if morsel is None else {"default_morsel_size": morsel}
    with daft.execution_config_ctx(**config):
        return [hashlib.sha256(report(n)).hexdigest() for n in cuts]


def test_these_changes_do_reorder_daft_sums():
    """Not our code: Daft's own mean of one column changes bits with the pieces and morsel sizes used below (so
    the tests below would catch a plain Daft sum)."""
    rng = np.random.default_rng(1)
    values = pa.table({"x": rng.random(20_000) ** 3})
    seen = set()
    for morsel in MORSELS:
        with daft.execution_config_ctx(**({} if morsel is None else {"default_morsel_size": morsel})):
            for n in PIECES:
                frame = pieces(values, n, seed=0)  # the same order: only the cuts differ
                seen.add(frame.agg(col("x").mean()).to_pydict()["x"][0])
    assert len(seen) > 1, "Daft's mean no longer depends on partitioning: these tests lost their teeth"


def test_same_bytes_over_pieces_and_morsel_sizes():
    first = report(1)
    assert b'"nDCG@10"' in first and b'"wsum-zmuv"' in first
    parsed = json.loads(first)
    assert parsed["bm25"]["impacts"] == parsed["bm25"]["join"]  # both engines add a query's terms in one order
    assert len(parsed["fused"]["rrf"]) > 3000 and len(parsed["bm25"]["join"]) > 100
    expected = hashlib.sha256(first).hexdigest()
    assert digests() == [expected] * len(PIECES)
    for morsel in MORSELS[1:]:
        assert digests(morsel, (1, 3, 8)) == [expected] * 3, f"morsel size {morsel}"


def _subprocess(code: str, *, cpus: set[int] | None = None) -> list[str]:
    """Run ``code`` (printing a JSON list last) in a fresh interpreter, optionally pinned to ``cpus``."""
    return python_json(["-c", code], cpus=cpus)


DIGESTS = "import json; from tests.test_determinism import digests; print(json.dumps(digests()))"


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs os.sched_setaffinity (Linux)")
def test_same_bytes_on_one_thread_and_on_every_core():
    expected = hashlib.sha256(report(1)).hexdigest()
    one = _subprocess(DIGESTS, cpus={min(os.sched_getaffinity(0))})
    every = _subprocess(DIGESTS)
    assert one == every == [expected] * len(PIECES)


@pytest.mark.slow
def test_same_bytes_on_ray(ray_session):
    """The digests computed on a 2-CPU local Ray cluster, inside the suite's one Ray session (tests/conftest.py)."""
    from tests.conftest import RAY_DIGEST_CUTS

    expected = hashlib.sha256(report(1)).hexdigest()
    assert ray_session["results"]["digests"] == [expected] * len(RAY_DIGEST_CUTS)


def test_cross_encoder_scores_do_not_depend_on_the_batching(tmp_path):
    """A pair scored alone or beside other pairs has another padded length, and another score in its last bits
    (seen for 3 of 40 pairs): the cross-encoder scores fixed groups of pairs, whatever batches Daft forms."""
    from daft_retrieval.load import load_beir
    from daft_retrieval.reranking import rerank
    from daft_retrieval.retrieve.bm25 import bm25_search
    from tests.local_models import cross_encoder_dir

    model = cross_encoder_dir(tmp_path)
    ds = load_beir(str(ROOT / "data" / "demo"))
    first = bm25_search(ds.corpus, ds.queries, k=12).to_arrow()
    seen = set()
    for morsel, n in ((None, 1), (None, 8), (64, 3)):
        with daft.execution_config_ctx(**({} if morsel is None else {"default_morsel_size": morsel})):
            run = rerank(pieces(first, n, seed=n), ds.queries, ds.corpus, method="cross", model=model, depth=12)
            rows = _rows(run)
        assert len(rows) == first.num_rows
        seen.add(json.dumps(rows))
    assert len(seen) == 1
