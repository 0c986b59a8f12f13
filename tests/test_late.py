"""Late interaction: MaxSim equals numpy, the centroid-pruned index finds the exact top 10, k-means behaves."""

from __future__ import annotations

import itertools

import daft
import numpy as np
import pytest
from daft import DataType, col

from daft_retrieval import schema as S
from daft_retrieval.encode.tokens import TokenConfig
from daft_retrieval.index.kmeans import kmeans
from daft_retrieval.index.late import build_late_index, default_centroids, open_late_index
from daft_retrieval.load import load_beir
from daft_retrieval.retrieve.late import late_search, search_late_index
from daft_retrieval.schema import TOKENS
from daft_retrieval.score.maxsim import maxsim, maxsim_many


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _token_frame(key: str, ids: list[str], matrices: list[np.ndarray]) -> daft.DataFrame:
    frame = daft.from_pydict({key: ids, TOKENS: [m.ravel().tolist() for m in matrices]})
    return frame.with_column(TOKENS, col(TOKENS).cast(DataType.list(DataType.float32())))


def test_maxsim_many_equals_a_loop_of_maxsim():
    rng = np.random.default_rng(1)
    query, tokens = _unit(rng.normal(size=(7, 16))), _unit(rng.normal(size=(60, 16)))
    starts = np.array([0, 5, 5, 22, 40, 60])  # one empty document
    expected = [maxsim(query, tokens[a:b]) for a, b in itertools.pairwise(starts)]
    np.testing.assert_allclose(maxsim_many(query, tokens, starts), expected, rtol=1e-6)
    brute = [
        float(sum(max(float(q @ t) for t in tokens[a:b]) for q in query)) if b > a else 0.0
        for a, b in itertools.pairwise(starts)
    ]
    np.testing.assert_allclose(expected, brute, rtol=1e-5)


def test_kmeans_reseeds_empty_clusters_and_returns_unit_centroids():
    rng = np.random.default_rng(2)
    x = np.repeat(_unit(rng.normal(size=(3, 8))), 20, axis=0)  # three distinct points, 20 copies each
    centroids = kmeans(x, 5, seed=0)
    assert centroids.shape == (5, 8)
    np.testing.assert_allclose(np.linalg.norm(centroids, axis=1), 1.0, rtol=1e-5)
    assert default_centroids(1_000_000) == 8192  # 2^floor(log2(16 x sqrt(10^6)))


def test_pruned_search_finds_the_exact_top_10_on_clustered_tokens(tmp_path):
    rng = np.random.default_rng(3)
    dim, n_docs, topics = 32, 600, 40
    centres = _unit(rng.normal(size=(topics, dim)))
    docs = []
    for _ in range(n_docs):
        picks = rng.choice(topics, size=3, replace=False)
        n = int(rng.integers(4, 30))
        docs.append(_unit(centres[rng.choice(picks, size=n)] + 0.1 * rng.normal(size=(n, dim))))
    queries = [
        _unit(centres[rng.choice(topics, 2)][rng.integers(0, 2, 6)] + 0.1 * rng.normal(size=(6, dim)))
        for _ in range(40)
    ]
    doc_ids, query_ids = [f"d{i:03d}" for i in range(n_docs)], [f"q{i}" for i in range(40)]
    frame = _token_frame(S.DOC_ID, doc_ids, docs)
    index = build_late_index(frame, str(tmp_path / "late"), dim=dim, n_centroids=64, nbits=0)  # fp32: exact
    assert open_late_index(str(tmp_path / "late")).n_tokens == sum(len(d) for d in docs)
    query_frame = _token_frame(S.QUERY_ID, query_ids, queries)
    exact = search_late_index(index, query_frame, 10, nprobe=0).to_pydict()
    pruned = search_late_index(index, query_frame, 10, nprobe=4, candidates=100).to_pydict()

    # brute force in numpy is the reference for the exact path
    for qi, q in enumerate(queries):
        scores = np.array([maxsim(q, d) for d in docs])
        top = [doc_ids[j] for j in np.argsort(-scores, kind="stable")[:10]]
        got = [
            d
            for qq, d, r in sorted(zip(exact[S.QUERY_ID], exact[S.DOC_ID], exact[S.RANK]), key=lambda t: t[2])
            if qq == query_ids[qi]
        ]
        assert got == top
    exact_pairs = set(zip(exact[S.QUERY_ID], exact[S.DOC_ID]))
    overlap = len(exact_pairs & set(zip(pruned[S.QUERY_ID], pruned[S.DOC_ID]))) / len(exact_pairs)
    assert overlap >= 0.95


def test_late_search_end_to_end_with_minilm_tokens(tmp_path):
    import pyarrow.parquet as pq

    import daft_retrieval as dr
    from daft_retrieval.cache.store import EmbeddingCache
    from tests.conftest import ROOT

    ds = load_beir(ROOT / "data" / "demo")
    config, cache = TokenConfig(max_seq_length=64), EmbeddingCache(tmp_path / "cache")
    runs = {
        "exact": late_search(ds.corpus, ds.queries, model=config, k=10, nprobe=0, nbits=0, cache=cache),  # fp32
        "pruned": late_search(ds.corpus, ds.queries, model=config, k=10, nbits=0, cache=cache),  # nprobe 4
        "compressed": late_search(ds.corpus, ds.queries, model=config, k=10, cache=cache),  # defaults: nbits 4
    }
    fp = config.fingerprint("document")[0]
    parts = list((tmp_path / "cache" / fp).glob("part-*.parquet"))
    assert parts and all(pq.read_schema(p).field("value").type.value_type == "halffloat" for p in parts)
    assert cache.counts[fp]["hits"] == 2 * cache.counts[fp]["misses"] > 0  # the later searches encoded nothing
    exact = runs["exact"].to_pydict()
    assert len(set(zip(exact[S.QUERY_ID], exact[S.DOC_ID]))) == 10 * ds.queries.count_rows()
    found = {name: dr.overlap(run, runs["exact"], k=10).aggregate["Overlap@10"] for name, run in runs.items()}
    assert found["exact"] == 1.0
    assert found["pruned"] >= 0.95  # real MiniLM token vectors, 2,048 centroids over 19,200 tokens
    assert found["compressed"] >= 0.9  # and 4-bit residuals (measured 0.943)
    ndcg = {name: dr.evaluate(run, ds.qrels, ["nDCG@10"]).aggregate["nDCG@10"] for name, run in runs.items()}
    assert abs(ndcg["compressed"] - ndcg["exact"]) <= 0.01


def test_token_config_checks_options():
    with pytest.raises(ValueError, match="query_length"):
        TokenConfig(query_length=0)
