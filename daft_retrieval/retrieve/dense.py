"""Dense retrieval: embed passages and queries with a bi-encoder, exact top-k by cosine or dot product.

>>> ds = load_beir("data/demo")  # doctest: +SKIP
>>> run = dense_search(ds.corpus, ds.queries, model="all-MiniLM-L6-v2", k=10)  # doctest: +SKIP
>>> run = dense_search(ds.corpus, ds.queries, model=DenseConfig("all-MiniLM-L6-v2", fp16=True))  # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import daft
from daft import col

from daft_retrieval import schema as S
from daft_retrieval.encode.column import encode
from daft_retrieval.encode.dense import DenseConfig
from daft_retrieval.errors import DataError
from daft_retrieval.index.vector import VectorIndex, VectorSearcher, build_vector_index, check_metric
from daft_retrieval.retrieve.indexed import indexed_search
from daft_retrieval.run import merge_hits, rank_run

if TYPE_CHECKING:
    from daft_retrieval.cache.store import EmbeddingCache

__all__ = ["build_dense_index", "dense_search", "search_vector_index"]


def build_dense_index(
    corpus: daft.DataFrame,
    path: str,
    model: str | DenseConfig | None = None,
    *,
    metric: str = "cosine",
    cache: EmbeddingCache | None = None,
    **options: Any,
) -> VectorIndex:
    """Embed ``corpus`` (title + " " + text; only cache misses with a ``cache``) with ``model`` (a spec or a
    :class:`~daft_retrieval.encode.dense.DenseConfig`; ``options``: its fields) and write a vector index."""
    config = DenseConfig.of(model, **options)
    embedded = encode(corpus, S.DOC_ID, S.document_text(), config, role="document", cache=cache)
    return build_vector_index(embedded, path, metric=metric, encoder=config.as_dict())


def search_vector_index(index: VectorIndex, query_vectors: daft.DataFrame, k: int) -> daft.DataFrame:
    """Top ``k`` documents per query (``query_id, embedding`` rows) from every shard, merged into a run frame."""
    searchers = (VectorSearcher(os.path.join(index.path, s), index.dim, index.metric, k) for s in index.shards)
    return rank_run(merge_hits(query_vectors, (searcher.top_k(col(S.EMBEDDING)) for searcher in searchers)), k)


def dense_search(
    corpus: daft.DataFrame,
    queries: daft.DataFrame,
    *,
    model: str | DenseConfig | None = None,
    k: int = 100,
    metric: str = "cosine",
    index_dir: str | None = None,
    cache: EmbeddingCache | None = None,
    **options: Any,
) -> daft.DataFrame:
    """Dense retrieval end to end: index the corpus (at ``index_dir``, or a temporary folder), search, top ``k``.
    ``model``: a spec or a :class:`~daft_retrieval.encode.dense.DenseConfig` (``options``: its fields; default
    all-MiniLM-L6-v2); ``cache``: an :class:`~daft_retrieval.cache.store.EmbeddingCache` (texts it holds are not
    re-encoded)."""
    config = DenseConfig.of(model, **options)
    S.require_columns(queries, [S.QUERY_ID, S.TEXT], "queries")
    S.require_columns(corpus, [S.DOC_ID, S.TITLE, S.TEXT], "corpus")
    if k < 1:  # before any encoding
        raise DataError(f"k must be >= 1, not {k}")
    check_metric(metric)
    return indexed_search(
        index_dir,
        "daft-retrieval-index-",
        queries=lambda: encode(queries, S.QUERY_ID, col(S.TEXT), config, role="query", cache=cache),
        build=lambda path: build_dense_index(corpus, path, config, metric=metric, cache=cache),
        search=lambda index, vectors: search_vector_index(index, vectors, k),
    )
