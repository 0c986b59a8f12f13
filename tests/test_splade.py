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


def test_chunked_pooling_gives_the_unchunked_weights_to_the_bit(demo):
    """The masked-LM head applied a few tokens at a time (encode/splade_head.py) and max-pooled as it goes gives the
    same weights as sentence-transformers' pooling over all logits at once, with many chunks per text."""
    import torch
    from sentence_transformers import SparseEncoder as STSparseEncoder
    from sentence_transformers.sparse_encoder.modules import SpladePooling, Transformer

    from daft_retrieval.encode.splade_head import chunked_splade

    path = resolve_sparse_model("splade-tiny")
    texts = [t or "" for t in demo[0].select(document_text().alias("t")).to_pydict()["t"][:24]]
    texts.append(" ".join(texts))  # one text of max_seq_length tokens
    plain = STSparseEncoder(modules=[Transformer(path, transformer_task="fill-mask"), SpladePooling("max")])
    chunked = chunked_splade(
        STSparseEncoder(modules=[Transformer(path, transformer_task="fill-mask"), SpladePooling("max")]), 96
    )
    assert type(chunked[1]).__name__ == "ChunkedSpladePooling"
    assert not hasattr(chunked[0].auto_model.cls, "predictions")  # the head moved out of the transformer
    kwargs = {"batch_size": 8, "convert_to_tensor": True, "show_progress_bar": False}
    want, got = (m.encode_document(texts, **kwargs) for m in (plain, chunked))
    want, got = (v.to_dense() if v.is_sparse else v for v in (want, got))
    assert want.shape == got.shape == (len(texts), 30522)
    assert torch.equal(want, got)
    assert (got > 0).sum(dim=1).min() > 0  # every text has weights


def test_chunked_pooling_leaves_other_models_to_sentence_transformers():
    """A model of another shape (sum pooling) keeps sentence-transformers' pooling, told to go in chunks."""
    from sentence_transformers import SparseEncoder as STSparseEncoder
    from sentence_transformers.sparse_encoder.modules import SpladePooling, Transformer

    from daft_retrieval.encode.splade_head import chunked_splade

    path = resolve_sparse_model("splade-tiny")
    model = STSparseEncoder(modules=[Transformer(path, transformer_task="fill-mask"), SpladePooling("sum")])
    assert chunked_splade(model)[1] is model[1] and model[1].chunk_size == 32
    assert hasattr(model[0].auto_model.cls, "predictions")
