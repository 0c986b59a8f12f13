"""Dense retrieval: embed passages and queries with a bi-encoder, exact top-k by cosine or dot product."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import daft
from daft import col

from daft_retrieval import schema as S
from daft_retrieval.encode.dense import DenseConfig
from daft_retrieval.encode.embed import EMBEDDING, document_text, embed_texts
from daft_retrieval.errors import DataError
from daft_retrieval.index.atomic import check_index_dir
from daft_retrieval.index.vector import VectorIndex, VectorSearcher, build_vector_index, check_metric
from daft_retrieval.paths import scratch_directory
from daft_retrieval.run import merge_hits, rank_run
from daft_retrieval.runner import persist

if TYPE_CHECKING:
    from daft_retrieval.cache.store import EmbeddingCache

__all__ = ["build_dense_index", "dense_search", "search_vector_index"]


def build_dense_index(
    corpus: daft.DataFrame,
    path: str,
    config: DenseConfig,
    *,
    metric: str = "cosine",
    cache: EmbeddingCache | None = None,
) -> VectorIndex:
    """Embed ``corpus`` (title + " " + text; only cache misses with a ``cache``) and write a vector index."""
    embedded = embed_texts(corpus, S.DOC_ID, document_text(), config, role="document", cache=cache)
    return build_vector_index(embedded, path, metric=metric, encoder=config.as_dict())


def search_vector_index(index: VectorIndex, query_vectors: daft.DataFrame, k: int) -> daft.DataFrame:
    """Top ``k`` documents per query (``query_id, embedding`` rows) from every shard, merged into a run frame."""
    searchers = (VectorSearcher(os.path.join(index.path, s), index.dim, index.metric, k) for s in index.shards)
    return rank_run(merge_hits(query_vectors, (searcher.top_k(col(EMBEDDING)) for searcher in searchers)), k)


def dense_search(
    corpus: daft.DataFrame,
    queries: daft.DataFrame,
    *,
    config: DenseConfig | None = None,
    k: int = 100,
    metric: str = "cosine",
    index_dir: str | None = None,
    cache: EmbeddingCache | None = None,
) -> daft.DataFrame:
    """Dense retrieval end to end: index the corpus (at ``index_dir``, or a temporary folder), search, top ``k``.
    ``cache``: an :class:`~daft_retrieval.cache.store.EmbeddingCache` (texts it holds are not re-encoded).

    >>> ds = load_beir("data/demo")  # doctest: +SKIP
    >>> run = dense_search(ds.corpus, ds.queries, config=DenseConfig("all-MiniLM-L6-v2"), k=10)  # doctest: +SKIP
    """
    config = config or DenseConfig()
    S.require_columns(queries, [S.QUERY_ID, S.TEXT], "queries")
    S.require_columns(corpus, [S.DOC_ID, S.TITLE, S.TEXT], "corpus")
    if k < 1:  # before any encoding
        raise DataError(f"k must be >= 1, not {k}")
    check_metric(metric)
    if index_dir is not None:
        check_index_dir(index_dir)  # a folder not ours to replace is refused before any encoding
    query_vectors = embed_texts(queries, S.QUERY_ID, col(S.TEXT), config, role="query", cache=cache)
    if index_dir is not None:
        index = build_dense_index(corpus, index_dir, config, metric=metric, cache=cache)
        return persist(search_vector_index(index, query_vectors, k))
    with scratch_directory("daft-retrieval-index-") as tmp:
        index = build_dense_index(corpus, os.path.join(tmp, "index"), config, metric=metric, cache=cache)
        return persist(search_vector_index(index, query_vectors, k))
