"""SPLADE retrieval: sparse vectors of documents as postings, of queries as query terms; score = dot product.

score(q, d) = sum over terms t of w_q(t) x w_d(t) (Formal et al., SIGIR 2021), computed by the same join and
groupby as BM25 (:func:`daft_retrieval.retrieve.postings.search_postings`).

    >>> ds = load_beir("data/demo")  # doctest: +SKIP
    >>> run = splade_search(ds.corpus, ds.queries, model="splade-tiny", k=100)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import daft
from daft import col

from daft_retrieval import schema as S
from daft_retrieval.encode.column import encode
from daft_retrieval.encode.sparse import SparseConfig
from daft_retrieval.index.postings import Postings, build_postings
from daft_retrieval.retrieve.postings import search_postings

if TYPE_CHECKING:
    from daft_retrieval.cache.store import EmbeddingCache

__all__ = ["sparse_rows", "splade_index", "splade_search"]


def sparse_rows(frame: daft.DataFrame, key: str, vectors: daft.Expression | None = None) -> daft.DataFrame:
    """``key, term, value`` rows of a ``list<struct{term, weight}>`` expression (default: the ``sparse`` column
    :func:`~daft_retrieval.encode.column.encode` gives), one row per non-zero term."""
    vectors = col(S.SPARSE) if vectors is None else vectors
    exploded = frame.select(col(key), vectors.alias(S.SPARSE)).explode(S.SPARSE).where(col(S.SPARSE).not_null())
    unnested = exploded.select(col(key), col(S.SPARSE).unnest())
    return unnested.select(col(key), col(S.TERM), col(S.WEIGHT).alias(S.VALUE))


def splade_index(
    corpus: daft.DataFrame,
    *,
    model: str | SparseConfig | None = None,
    cache: EmbeddingCache | None = None,
    **options: Any,
) -> Postings:
    """Postings (``value`` = document term weight) of ``corpus`` encoded by ``model`` (a spec or a
    :class:`~daft_retrieval.encode.sparse.SparseConfig`; ``options``: its fields; default splade-tiny)."""
    config = SparseConfig.of(model, **options)
    S.require_columns(corpus, [S.DOC_ID, S.TITLE, S.TEXT], "corpus")
    vectors = encode(corpus, S.DOC_ID, S.document_text(), config, role="document", cache=cache)
    return build_postings(sparse_rows(vectors, S.DOC_ID), documents=corpus)


def splade_search(
    corpus_or_index: daft.DataFrame | Postings,
    queries: daft.DataFrame,
    *,
    model: str | SparseConfig | None = None,
    k: int = 100,
    cache: EmbeddingCache | None = None,
    **options: Any,
) -> daft.DataFrame:
    """Top-``k`` SPLADE run for ``queries`` (``query_id, text``) over a corpus frame or a :func:`splade_index`;
    ``model``: a spec or a :class:`~daft_retrieval.encode.sparse.SparseConfig` (``options``: its fields);
    ``cache``: an embedding cache."""
    config = SparseConfig.of(model, **options)
    S.require_columns(queries, [S.QUERY_ID, S.TEXT], "queries")
    is_index = isinstance(corpus_or_index, Postings)
    index = corpus_or_index if is_index else splade_index(corpus_or_index, model=config, cache=cache)
    vectors = encode(queries, S.QUERY_ID, col(S.TEXT), config, role="query", cache=cache)
    return search_postings(sparse_rows(vectors, S.QUERY_ID), index, k, weight=S.VALUE)
