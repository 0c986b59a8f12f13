"""SPLADE: scores are the dot products of the encoder's own sparse vectors; runs are deterministic."""

from __future__ import annotations

import daft
import numpy as np
import pytest

from daft_retrieval import memo
from daft_retrieval import schema as S
from daft_retrieval.encode.sparse import SparseConfig, SparseEncoder
from daft_retrieval.errors import DataError
from daft_retrieval.load import load_beir
from daft_retrieval.resolve import resolve_sparse_model
from daft_retrieval.retrieve.splade import splade_index, splade_search
from daft_retrieval.schema import document_text
from tests.conftest import ROOT

try:
    resolve_sparse_model("splade-tiny")
except ImportError as e:  # pragma: no cover - depends on the environment
    pytest.skip(str(e), allow_module_level=True)

pytest.importorskip("sentence_transformers")


@pytest.fixture(scope="module")
def demo():
    ds = load_beir(str(ROOT / "data" / "demo"))
    corpus = ds.corpus.sort(S.DOC_ID).limit(60).collect()
    queries = ds.queries.sort(S.QUERY_ID).limit(8).collect()
    return corpus, queries


def test_constructing_loads_nothing_and_checks_options():
    before = memo.loaded("sparse")
    SparseEncoder("some/unknown-model", batch_size=8)
    assert memo.loaded("sparse") == before
    with pytest.raises(DataError, match="batch_size"):
        SparseEncoder(batch_size=0)


def test_scores_are_dot_products_of_the_encoders_vectors(demo):
    corpus, queries = demo
    k = 10
    run = splade_search(corpus, queries, k=k).sort([S.QUERY_ID, S.RANK]).to_pydict()

    model = SparseConfig().build()[0]
    docs = corpus.select(S.DOC_ID, document_text()).to_pydict()
    qs = queries.to_pydict()
    d = model.encode_document(docs["document"], convert_to_sparse_tensor=True).to_dense().numpy()
    q = model.encode_query(qs[S.TEXT], convert_to_sparse_tensor=True).to_dense().numpy()
    scores = q.astype(np.float64) @ d.astype(np.float64).T
    ids = np.asarray(docs[S.DOC_ID], dtype=object)
    for i, qid in enumerate(qs[S.QUERY_ID]):
        got = [(doc, s) for qq, doc, s in zip(run[S.QUERY_ID], run[S.DOC_ID], run[S.SCORE]) if qq == qid]
        # numpy in trec_eval order: score descending, then doc id descending
        order = sorted(range(len(ids)), key=lambda j: (-scores[i, j], tuple(-ord(c) for c in ids[j])))
        expected = [(ids[j], scores[i, j]) for j in order if scores[i, j] > 0][:k]
        assert [s for _, s in got] == pytest.approx([s for _, s in expected], rel=1e-4)
        assert {doc for doc, _ in got} == {doc for doc, _ in expected}, qid


def test_runs_are_deterministic(demo):
    corpus, queries = demo
    index = splade_index(corpus)
    first = splade_search(index, queries, k=20).sort([S.QUERY_ID, S.RANK]).to_pydict()
    second = splade_search(corpus, queries, k=20).sort([S.QUERY_ID, S.RANK]).to_pydict()
    assert first == second and len(first[S.DOC_ID]) == 20 * 8


def test_sparse_vectors_column():
    df = daft.from_pydict({"t": ["protein folding", "", None]})
    vectors = df.select(SparseEncoder().encode_queries(daft.col("t"))).to_pydict()["t"]
    assert len(vectors) == 3
    terms = {v["term"]: v["weight"] for v in vectors[0]}
    assert "protein" in terms and all(w > 0 for w in terms.values())
