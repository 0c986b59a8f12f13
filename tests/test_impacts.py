"""The impact searcher (default BM25/SPLADE engine): exact top k under ties, and the same runs as the join plan."""

from __future__ import annotations

import shutil
import tempfile

import numpy as np
import pytest
from daft import col, lit

from daft_retrieval import schema as S
from daft_retrieval.index.bm25 import BM25Index
from daft_retrieval.index.impacts import top_k_rows
from daft_retrieval.load import load_beir
from daft_retrieval.retrieve.postings import search_postings
from daft_retrieval.schema import TERM, VALUE, WEIGHT
from daft_retrieval.text.tokenize import Tokenizer
from tests.conftest import shared_dataset


def _reference_top_k(scores: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
    out = []
    for row in scores:
        cells = [(c, v) for c, v in enumerate(row.tolist()) if np.isfinite(v)]
        out.append(sorted(cells, key=lambda cv: (-cv[1], -cv[0]))[:k])
    return out


@pytest.mark.parametrize("k", [1, 3, 10, 40])
def test_top_k_rows_equals_a_sort_with_ties_and_unmatched(k):
    rng = np.random.default_rng(k)
    scores = rng.integers(0, 6, size=(30, 25)).astype(np.float64) / 4  # many ties
    scores[rng.random(scores.shape) < 0.3] = -np.inf  # unmatched documents
    scores[0] = -np.inf  # a query matching nothing
    rows, cols, values = top_k_rows(scores, k)
    got = [[] for _ in range(len(scores))]
    for r, c, v in zip(rows.tolist(), cols.tolist(), values.tolist()):
        got[r].append((c, v))
    assert got == _reference_top_k(scores, k)


@pytest.mark.parametrize("k", [1, 5, 30])
def test_top_k_rows_with_zero_as_unmatched(k):
    rng = np.random.default_rng(10 + k)
    scores = rng.integers(0, 4, size=(20, 25)).astype(np.float64)  # zeros are unmatched documents
    scores[3] = 0.0
    rows, cols, values = top_k_rows(scores, k, floor=0.0)
    got = [[] for _ in range(len(scores))]
    for r, c, v in zip(rows.tolist(), cols.tolist(), values.tolist()):
        got[r].append((c, v))
    assert got == _reference_top_k(np.where(scores > 0, scores, -np.inf), k)


def test_top_k_rows_is_exact_where_float32_would_tie():
    # 1 + 1e-12 and 1 are equal in float32: the float64 order must still decide
    scores = np.array([[1.0, 1.0 + 1e-12, 1.0, 0.5]])
    assert top_k_rows(scores, 1)[1].tolist() == [1]
    assert top_k_rows(scores, 2)[1].tolist() == [1, 2]


def _run_rows(run) -> list[tuple[str, str, int, float]]:
    d = run.to_pydict()
    rows = zip(d[S.QUERY_ID], d[S.DOC_ID], d[S.RANK], d[S.SCORE])
    return sorted((q, doc, r, round(s, 9)) for q, doc, r, s in rows)


@pytest.mark.parametrize("name", ["cranfield", "heq"])
def test_impacts_and_join_give_the_same_run(name):
    ds = load_beir(str(shared_dataset(name)))
    index = BM25Index.build(ds.corpus, tokenizer=Tokenizer())
    rows = index.tokenizer.terms(ds.queries, S.QUERY_ID, col(S.TEXT)).with_column(VALUE, lit(1.0))
    rows = rows.select(S.QUERY_ID, TERM, VALUE).collect()
    fast = search_postings(rows, index.postings, 50, weight=WEIGHT)
    join = search_postings(rows, index.postings, 50, weight=WEIGHT, method="join")
    fast_rows, join_rows = _run_rows(fast), _run_rows(join)
    assert len(fast_rows) > 1000
    assert fast_rows == join_rows


def test_unknown_method_is_refused(demo_path):
    ds = load_beir(demo_path)
    index = BM25Index.build(ds.corpus)
    rows = index.tokenizer.terms(ds.queries, S.QUERY_ID, col(S.TEXT)).with_column(VALUE, lit(1.0))
    with pytest.raises(ValueError, match="method must be"):
        search_postings(rows.select(S.QUERY_ID, TERM, VALUE), index.postings, 10, method="wand")


def _scipy_scores(impacts, terms, weights, offsets) -> np.ndarray:
    """The former engine: SciPy's sparse product (queries x terms) @ (terms x documents), zeros unmatched."""
    from scipy.sparse import csr_matrix

    postings = csr_matrix(
        (impacts.weights, impacts.docs, impacts.offsets), shape=(len(impacts.offsets) - 1, impacts.n_docs)
    )
    queries = csr_matrix((weights, terms, offsets), shape=(len(offsets) - 1, postings.shape[0]))
    queries.sort_indices()
    return (queries @ postings).toarray()


@pytest.mark.parametrize("name", ["demo", "scifact"])
def test_accumulate_equals_scipy_sparse_product_to_the_bit(name, demo_path):
    from daft_retrieval.index.impacts import Impacts, accumulate

    ds = load_beir(demo_path if name == "demo" else str(shared_dataset(name)))
    tmp = tempfile.mkdtemp(prefix="test-impacts-")
    try:
        index = BM25Index.build(ds.corpus, tokenizer=Tokenizer(stopwords="en", stemmer="english")).save(tmp + "/i")
        impacts = Impacts.read(tmp + "/i", WEIGHT)
        n_postings = index.postings.postings.count_rows()
    finally:
        shutil.rmtree(tmp)
    assert impacts.offsets[-1] == n_postings == len(impacts.docs) and n_postings > 1000
    rng = np.random.default_rng(0)
    n_terms = len(impacts.offsets) - 1
    lengths = rng.integers(1, 12, size=200)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    terms = np.concatenate([np.sort(rng.choice(n_terms, size=n, replace=False)) for n in lengths])
    weights = rng.random(len(terms)) * 3  # not whole counts: every rounding shows
    ours = accumulate(impacts, terms, weights, offsets)
    assert ours.tobytes() == _scipy_scores(impacts, terms, weights, offsets).tobytes()
