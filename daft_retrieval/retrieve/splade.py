"""SPLADE retrieval: sparse vectors of documents as postings, of queries as query terms; score = dot product.

score(q, d) = sum over terms t of w_q(t) x w_d(t) (Formal et al., SIGIR 2021), computed by the same join and
groupby as BM25 (:func:`daft_retrieval.retrieve.postings.search_postings`).

    >>> ds = load_beir("data/demo")  # doctest: +SKIP
    >>> run = splade_search(ds.corpus, ds.queries, model="splade-tiny", k=100)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import daft
from daft import col

from daft_retrieval import schema as S
from daft_retrieval.encode.embed import document_text
from daft_retrieval.encode.sparse import SparseConfig, resolve_sparse_model, sparse_encoder
from daft_retrieval.index.postings import TERM, VALUE, WEIGHT, Postings, build_postings
from daft_retrieval.retrieve.postings import search_postings

if TYPE_CHECKING:
    from daft_retrieval.cache.store import EmbeddingCache

__all__ = ["sparse_rows", "sparse_vectors", "splade_index", "splade_search"]

_VECTOR = "_sparse"


def sparse_rows(frame: daft.DataFrame, key: str, vectors: daft.Expression) -> daft.DataFrame:
    """``key, term, value`` rows of a ``list<struct{term, weight}>`` expression (one row per non-zero term)."""
    exploded = frame.select(col(key), vectors.alias(_VECTOR)).explode(_VECTOR).where(col(_VECTOR).not_null())
    unnested = exploded.select(col(key), col(_VECTOR).unnest())
    return unnested.select(col(key), col(TERM), col(WEIGHT).alias(VALUE))


def sparse_vectors(
    frame: daft.DataFrame,
    key: str,
    text: daft.Expression,
    config: SparseConfig,
    *,
    role: str,
    cache: EmbeddingCache | None = None,
) -> daft.DataFrame:
    """``key, term, value`` rows of the texts' sparse vectors; with a ``cache``, only its misses are encoded."""
    from daft_retrieval.cache.cached import encode_column
    from daft_retrieval.cache.store import VALUE as ENCODED

    encoder = sparse_encoder(config)
    method = encoder.encode_queries if role == "query" else encoder.encode_documents
    kwargs = {"kind": "sparse", "config": config, "role": role, "cache": cache, "resolve": resolve_sparse_model}
    vectors = encode_column(frame, key, text, method, **kwargs)
    return sparse_rows(vectors, key, col(ENCODED))


def splade_index(
    corpus: daft.DataFrame, *, model: str = "splade-tiny", cache: EmbeddingCache | None = None, **options
) -> Postings:
    """Postings (``value`` = document term weight) of ``corpus`` encoded by ``model`` (options: SparseConfig)."""
    S.require_columns(corpus, [S.DOC_ID, S.TITLE, S.TEXT], "corpus")
    config = SparseConfig(model=model, **options)
    rows = sparse_vectors(corpus, S.DOC_ID, document_text(), config, role="document", cache=cache)
    return build_postings(rows, documents=corpus)


def splade_search(
    corpus_or_index: daft.DataFrame | Postings,
    queries: daft.DataFrame,
    *,
    model: str = "splade-tiny",
    k: int = 100,
    cache: EmbeddingCache | None = None,
    **options,
) -> daft.DataFrame:
    """Top-``k`` SPLADE run for ``queries`` (``query_id, text``) over a corpus frame or a :func:`splade_index`
    (options: :class:`~daft_retrieval.encode.sparse.SparseConfig`; ``cache``: an embedding cache)."""
    S.require_columns(queries, [S.QUERY_ID, S.TEXT], "queries")
    config = SparseConfig(model=model, **options)
    is_index = isinstance(corpus_or_index, Postings)
    index = corpus_or_index if is_index else splade_index(corpus_or_index, model=model, cache=cache, **options)
    rows = sparse_vectors(queries, S.QUERY_ID, col(S.TEXT), config, role="query", cache=cache)
    return search_postings(rows, index, k, weight=VALUE)
