"""SPLADE retrieval: sparse vectors of documents as postings, of queries as query terms; score = dot product.

score(q, d) = sum over terms t of w_q(t) x w_d(t) (Formal et al., SIGIR 2021), computed by the same join and
groupby as BM25 (:func:`daft_retrieval.retrieve.postings.search_postings`).

    >>> ds = load_beir("data/demo")  # doctest: +SKIP
    >>> run = splade_search(ds.corpus, ds.queries, model="splade-tiny", k=100)  # doctest: +SKIP
"""

from __future__ import annotations

import daft
from daft import col

from daft_retrieval import schema as S
from daft_retrieval.encode.embed import document_text
from daft_retrieval.encode.sparse import SparseEncoder
from daft_retrieval.index.postings import TERM, VALUE, WEIGHT, Postings, build_postings
from daft_retrieval.retrieve.postings import search_postings

__all__ = ["sparse_rows", "splade_index", "splade_search"]

_VECTOR = "_sparse"


def sparse_rows(frame: daft.DataFrame, key: str, vectors: daft.Expression) -> daft.DataFrame:
    """``key, term, value`` rows of a ``list<struct{term, weight}>`` expression (one row per non-zero term)."""
    exploded = frame.select(col(key), vectors.alias(_VECTOR)).explode(_VECTOR).where(col(_VECTOR).not_null())
    unnested = exploded.select(col(key), col(_VECTOR).unnest())
    return unnested.select(col(key), col(TERM), col(WEIGHT).alias(VALUE))


def splade_index(corpus: daft.DataFrame, *, model: str = "splade-tiny", encoder: object | None = None) -> Postings:
    """Postings (``value`` = document term weight) of ``corpus`` encoded by ``encoder`` (default: ``model``)."""
    S.require_columns(corpus, [S.DOC_ID, S.TITLE, S.TEXT], "corpus")
    encoder = encoder or SparseEncoder(model)
    rows = sparse_rows(corpus, S.DOC_ID, encoder.encode_documents(document_text()))
    return build_postings(rows, documents=corpus)


def splade_search(
    corpus_or_index: daft.DataFrame | Postings,
    queries: daft.DataFrame,
    *,
    model: str = "splade-tiny",
    k: int = 100,
    encoder: object | None = None,
) -> daft.DataFrame:
    """Top-``k`` SPLADE run for ``queries`` (``query_id, text``) over a corpus frame or a :func:`splade_index`."""
    S.require_columns(queries, [S.QUERY_ID, S.TEXT], "queries")
    encoder = encoder or SparseEncoder(model)
    is_index = isinstance(corpus_or_index, Postings)
    index = corpus_or_index if is_index else splade_index(corpus_or_index, encoder=encoder)
    rows = sparse_rows(queries, S.QUERY_ID, encoder.encode_queries(col(S.TEXT)))
    return search_postings(rows, index, k, weight=VALUE)
