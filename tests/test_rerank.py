"""Rerankers: each equals its model applied directly, keeps the run shape, and reranks only the top depth."""

from __future__ import annotations

import daft
import numpy as np
import pytest

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError
from daft_retrieval.load import load_beir
from daft_retrieval.reranking import candidates, rerank
from daft_retrieval.retrieve.bm25 import bm25_search
from daft_retrieval.schema import document_text
from daft_retrieval.score.maxsim import maxsim
from tests.local_models import colbert_dir, cross_encoder_dir


@pytest.fixture(scope="module")
def demo():
    from tests.conftest import ROOT

    ds = load_beir(ROOT / "data" / "demo")
    queries = ds.queries.limit(6).collect()
    first = bm25_search(ds.corpus, queries, k=20).collect()
    return ds, queries, first


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {"cross": cross_encoder_dir(root), "colbert": colbert_dir(root)}


def _texts(ds, queries, first, depth):
    pairs = candidates(first, queries, ds.corpus, depth).to_pydict()
    return list(zip(pairs[S.QUERY_ID], pairs[S.DOC_ID])), pairs["query"], pairs["document"]


def _check_run(run, first, depth):
    d = run.to_pydict()
    assert set(run.column_names) == {S.QUERY_ID, S.DOC_ID, S.SCORE, S.RANK}
    top = first.where(daft.col(S.RANK) <= depth).to_pydict()
    assert sorted(zip(d[S.QUERY_ID], d[S.DOC_ID])) == sorted(zip(top[S.QUERY_ID], top[S.DOC_ID]))
    for q in set(d[S.QUERY_ID]):
        rows = sorted(
            (r, -s, doc) for qq, doc, s, r in zip(d[S.QUERY_ID], d[S.DOC_ID], d[S.SCORE], d[S.RANK]) if qq == q
        )
        assert [r for r, _, _ in rows] == list(range(1, len(rows) + 1))
        assert [s for _, s, _ in rows] == sorted(s for _, s, _ in rows)  # rank follows score
    return {(q, doc): s for q, doc, s in zip(d[S.QUERY_ID], d[S.DOC_ID], d[S.SCORE])}


def test_cross_encoder_equals_the_model_on_each_pair(demo, models):
    from sentence_transformers import CrossEncoder

    ds, queries, first = demo
    run = rerank(first, queries, ds.corpus, method="cross", model=models["cross"], depth=10)
    scores = _check_run(run, first, 10)
    keys, q_texts, d_texts = _texts(ds, queries, first, 10)
    expected = CrossEncoder(models["cross"], device="cpu").predict(list(zip(q_texts, d_texts)))
    np.testing.assert_allclose([scores[key] for key in keys], expected, rtol=1e-4, atol=1e-5)


def test_bi_encoder_equals_cosine_of_the_model(demo):
    from sentence_transformers import SentenceTransformer

    from daft_retrieval.resolve import resolve_model

    ds, queries, first = demo
    run = rerank(first, queries, ds.corpus, method="bi", model="all-MiniLM-L6-v2", depth=5)
    scores = _check_run(run, first, 5)
    keys, q_texts, d_texts = _texts(ds, queries, first, 5)
    model = SentenceTransformer(resolve_model("all-MiniLM-L6-v2"), device="cpu")
    q = model.encode_query(q_texts, normalize_embeddings=True)
    d = model.encode_document(d_texts, normalize_embeddings=True)
    np.testing.assert_allclose([scores[key] for key in keys], (q * d).sum(axis=1), rtol=1e-4, atol=1e-5)


def test_late_interaction_equals_numpy_maxsim_with_the_projection(demo, models):
    import torch
    from sentence_transformers import SentenceTransformer

    ds, queries, first = demo
    run = rerank(first, queries, ds.corpus, method="late", model=models["colbert"], depth=8, query_prefix="[Q] ")
    scores = _check_run(run, first, 8)
    keys, q_texts, d_texts = _texts(ds, queries, first, 8)
    model = SentenceTransformer(models["colbert"], device="cpu")
    weight = model[2].linear.weight.detach()

    def tokens(text: str) -> np.ndarray:
        raw = model.encode(text, output_value="token_embeddings", convert_to_numpy=False)
        projected = torch.nn.functional.normalize(raw @ weight.T, dim=-1)
        assert projected.shape[1] == 128
        return projected.numpy()

    expected = [maxsim(tokens("[Q] " + q), tokens(d)) for q, d in zip(q_texts, d_texts)]
    np.testing.assert_allclose([scores[key] for key in keys], expected, rtol=1e-4, atol=1e-4)


def test_bad_reranker_and_depth_fail_clearly(demo):
    ds, queries, first = demo
    with pytest.raises(DataError, match="unknown reranker 'colbert'"):
        rerank(first, queries, ds.corpus, method="colbert", model="x")
    with pytest.raises(DataError, match="rerank depth must be >= 1"):
        rerank(first, queries, ds.corpus, method="bi", model="all-MiniLM-L6-v2", depth=0)


def test_candidates_join_both_texts(demo):
    ds, queries, first = demo
    pairs = candidates(first, queries, ds.corpus, 3).to_pydict()
    corpus = ds.corpus.select(S.DOC_ID, document_text()).to_pydict()
    text_of = dict(zip(corpus[S.DOC_ID], corpus["document"]))
    assert len(pairs[S.DOC_ID]) == 3 * queries.count_rows()
    assert all(text_of[d] == t for d, t in zip(pairs[S.DOC_ID], pairs["document"]))
