"""Dense retrieval: exact search equals numpy brute force; the model loads once per worker; real-collection parity."""

from __future__ import annotations

import daft
import numpy as np
import pytest
from daft import DataType, col

from daft_retrieval import memo
from daft_retrieval import schema as S
from daft_retrieval.encode.column import encode
from daft_retrieval.encode.dense import BATCH_ROWS, DenseConfig, DenseEncoder
from daft_retrieval.encode.sparse import SparseEncoder
from daft_retrieval.encode.tokens import TokenEncoder
from daft_retrieval.errors import DataError
from daft_retrieval.evaluation import evaluate
from daft_retrieval.index.vector import build_vector_index, open_vector_index
from daft_retrieval.load import load_beir
from daft_retrieval.reranking.cross import CrossEncoderScorer
from daft_retrieval.retrieve.dense import dense_search, search_vector_index
from daft_retrieval.schema import EMBEDDING
from tests.conftest import shared_dataset


def _frame(ids: list[str], key: str, matrix: np.ndarray) -> daft.DataFrame:
    dim = matrix.shape[1]
    df = daft.from_pydict({key: ids, EMBEDDING: list(matrix.astype(np.float32))})
    return df.with_column(EMBEDDING, col(EMBEDDING).cast(DataType.embedding(DataType.float32(), dim)))


@pytest.mark.parametrize("metric", ["cosine", "dot"])
def test_exact_search_matches_numpy(tmp_path, metric):
    rng = np.random.default_rng(7)
    docs, queries, k = rng.standard_normal((3000, 32)), rng.standard_normal((50, 32)), 20
    doc_ids = [f"d{i}" for i in range(len(docs))]
    index = build_vector_index(_frame(doc_ids, S.DOC_ID, docs), str(tmp_path / "idx"), metric=metric)
    assert open_vector_index(str(tmp_path / "idx")).count == 3000
    run = search_vector_index(index, _frame([f"q{i}" for i in range(50)], S.QUERY_ID, queries), k).to_pylist()

    d32, q32 = docs.astype(np.float32), queries.astype(np.float32)
    if metric == "cosine":
        d32 = d32 / np.linalg.norm(d32, axis=1, keepdims=True)
        q32 = q32 / np.linalg.norm(q32, axis=1, keepdims=True)
    scores = q32 @ d32.T
    for qi in range(50):
        ours = sorted((r for r in run if r[S.QUERY_ID] == f"q{qi}"), key=lambda r: r[S.RANK])
        assert [r[S.RANK] for r in ours] == list(range(1, k + 1))
        expected = np.argsort(-scores[qi], kind="stable")[:k]
        assert [r[S.DOC_ID] for r in ours] == [doc_ids[j] for j in expected]  # random floats: no ties
        np.testing.assert_allclose([r[S.SCORE] for r in ours], scores[qi][expected], rtol=1e-5)


def test_model_loads_once_per_worker_not_per_batch():
    memo.forget("dense")
    n = BATCH_ROWS * 2 + 17  # three Daft batches
    texts = daft.from_pydict({"id": [str(i) for i in range(n)], "text": [f"passage number {i}" for i in range(n)]})
    out = encode(texts, "id", col("text"), DenseConfig(max_seq_length=16), role="document")
    assert out.count_rows() == n
    assert len(memo.loaded("dense")) == 1  # the weights loaded once in this process, for every batch and worker
    assert out.schema()[EMBEDDING].dtype == DataType.embedding(DataType.float32(), 384)


def test_query_and_document_embeddings_match_sentence_transformers():
    from sentence_transformers import SentenceTransformer

    from daft_retrieval.resolve import resolve_model

    texts = ["how long to rest a steak", "why is the sky blue", ""]
    df = daft.from_pydict({"id": ["a", "b", "c"], "text": texts})
    ours = encode(df, "id", col("text"), DenseConfig(), role="query").sort("id").to_pydict()[EMBEDDING]
    ref = SentenceTransformer(resolve_model("all-MiniLM-L6-v2"), device="cpu").encode(texts, normalize_embeddings=True)
    np.testing.assert_allclose(np.stack(ours), ref, atol=1e-5)


def test_bad_options_fail_before_any_work():
    with pytest.raises(DataError, match="batch_size"):
        DenseEncoder("all-MiniLM-L6-v2", batch_size=0)
    with pytest.raises(DataError, match="device"):
        DenseConfig(device="tpu")
    before = len(memo.loaded("dense"))
    DenseEncoder("some/hub-model-that-is-not-downloaded")
    assert len(memo.loaded("dense")) == before


@pytest.mark.parametrize(
    "make",
    [
        lambda device: DenseEncoder(device=device).udf.embed_documents,
        lambda device: TokenEncoder(device=device).udf.embed_queries,
        lambda device: SparseEncoder(device=device).udf.encode_documents,
        lambda device: CrossEncoderScorer("all-MiniLM-L6-v2", device=device).udf.score,
    ],
    ids=["dense", "tokens", "sparse", "cross"],
)
def test_cuda_devices_ask_daft_for_one_gpu_and_others_for_none(make):
    # what Daft schedules on: a CUDA encoder must hold a GPU (one actor per GPU on Ray); a CPU one must not wait
    # for a GPU the cluster may lack. Nothing loads here.
    assert make("cuda").gpus == 1
    assert make("cuda:1").gpus == 1
    assert make("cpu").gpus == 0
    assert make(None).gpus == 0


def test_dense_search_on_demo(demo_path):
    ds = load_beir(str(demo_path))
    run = dense_search(ds.corpus, ds.queries, k=10)
    assert run.column_names == list(S.RUN)
    per_query = run.groupby(S.QUERY_ID).agg(col(S.DOC_ID).count().alias("n")).to_pydict()
    assert len(per_query[S.QUERY_ID]) == 44 and set(per_query["n"]) == {10}
    result = evaluate(run, ds.qrels, ["nDCG@10", "R@10"])
    assert result.aggregate["nDCG@10"] > 0.7  # a real model finds the authored answers


@pytest.mark.slow
def test_cranfield_matches_published_minilm_numbers():
    ds = load_beir(str(shared_dataset("cranfield")))
    run = dense_search(ds.corpus, ds.queries, k=100)
    result = evaluate(run, ds.qrels, ["nDCG@10", "R@100"]).aggregate
    assert abs(result["nDCG@10"] - 0.3817) <= 0.001, result
    assert abs(result["R@100"] - 0.7724) <= 0.002, result
