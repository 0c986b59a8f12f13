"""Dense retrieval: embed passages and queries with a bi-encoder, top-k by cosine or dot product: exact
(``index="exact"``), approximate by FAISS (``index="faiss:HNSW32"``, any factory string; see
:mod:`daft_retrieval.index.faiss`), or by a Qdrant collection (``index="qdrant"``, embedded local mode or a server:
``index_options={"url": ...}``; see :mod:`daft_retrieval.index.qdrant`), the candidates scored exactly.

>>> ds = load_beir("data/demo")  # doctest: +SKIP
>>> run = dense_search(ds.corpus, ds.queries, model="all-MiniLM-L6-v2", k=10)  # doctest: +SKIP
>>> run = dense_search(ds.corpus, ds.queries, model=DenseConfig("all-MiniLM-L6-v2", fp16=True))  # doctest: +SKIP
>>> run = dense_search(ds.corpus, ds.queries, index="faiss:HNSW32", index_options={"ef_search": 128})  # doctest: +SKIP
>>> run = dense_search(ds.corpus, ds.queries, index="qdrant", index_dir="data/index/demo-qdrant")  # doctest: +SKIP
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
from daft_retrieval.index.faiss import FaissIndex, FaissOptions, FaissSearcher, build_faiss_index, parse_index
from daft_retrieval.index.kind import index_kind
from daft_retrieval.index.vector import VectorIndex, VectorSearcher, build_vector_index, check_metric
from daft_retrieval.retrieve.indexed import indexed_search
from daft_retrieval.run import merge_hits, rank_run

if TYPE_CHECKING:
    from daft_retrieval.cache.store import EmbeddingCache
    from daft_retrieval.index.qdrant import QdrantIndex, QdrantOptions

__all__ = ["build_dense_index", "dense_search", "search_faiss_index", "search_qdrant_index", "search_vector_index"]


def build_dense_index(
    corpus: daft.DataFrame,
    path: str,
    model: str | DenseConfig | None = None,
    *,
    metric: str = "cosine",
    cache: EmbeddingCache | None = None,
    index: str = "exact",
    index_options: QdrantOptions | dict | None = None,
    **options: Any,
) -> VectorIndex:
    """Embed ``corpus`` (title + " " + text; only cache misses with a ``cache``) with ``model`` (a spec or a
    :class:`~daft_retrieval.encode.dense.DenseConfig`; ``options``: its fields) and write a vector index
    (``index="faiss:FACTORY"``: with a FAISS index per shard, a :class:`~daft_retrieval.index.faiss.FaissIndex`;
    ``index="qdrant"``: upserted into Qdrant, ``index_options`` its
    :class:`~daft_retrieval.index.qdrant.QdrantOptions`, a :class:`~daft_retrieval.index.qdrant.QdrantIndex`)."""
    kind = index_kind(index)  # before any encoding
    factory = parse_index(index) if kind == "faiss" else None
    if kind == "qdrant":
        from daft_retrieval.index.qdrant import QdrantOptions, check_server

        settings = QdrantOptions.of(index_options)
        check_server(settings.url, settings.timeout)
    config = DenseConfig.of(model, **options)
    embedded = encode(corpus, S.DOC_ID, S.document_text(), config, role="document", cache=cache)
    if kind == "qdrant":
        from daft_retrieval.index.qdrant import build_qdrant_dense_index

        return build_qdrant_dense_index(embedded, path, settings, metric=metric, encoder=config.as_dict())
    if factory is not None:
        return build_faiss_index(embedded, path, factory, metric=metric, encoder=config.as_dict())
    return build_vector_index(embedded, path, metric=metric, encoder=config.as_dict())


def search_vector_index(index: VectorIndex, query_vectors: daft.DataFrame, k: int) -> daft.DataFrame:
    """Top ``k`` documents per query (``query_id, embedding`` rows) from every shard, merged into a run frame."""
    searchers = (VectorSearcher(os.path.join(index.path, s), index.dim, index.metric, k) for s in index.shards)
    return rank_run(merge_hits(query_vectors, (searcher.top_k(col(S.EMBEDDING)) for searcher in searchers)), k)


def search_faiss_index(
    index: FaissIndex, query_vectors: daft.DataFrame, k: int, options: FaissOptions | dict | None = None
) -> daft.DataFrame:
    """Approximate top ``k`` per query from every shard's FAISS index (``options``: ``ef_search``, ``nprobe``,
    ``refine``; see :class:`~daft_retrieval.index.faiss.FaissOptions`), scored exactly, merged into a run frame."""
    settings = FaissOptions.of(options).as_dict()
    searchers = (
        FaissSearcher(os.path.join(index.path, s), os.path.join(index.path, f), index.dim, index.metric, k, settings)
        for s, f in zip(index.shards, index.faiss_files)
    )
    return rank_run(merge_hits(query_vectors, (searcher.top_k(col(S.EMBEDDING)) for searcher in searchers)), k)


def search_qdrant_index(
    index: QdrantIndex, query_vectors: daft.DataFrame, k: int, options: QdrantOptions | dict | None = None
) -> daft.DataFrame:
    """Top ``k`` per query from the Qdrant collection of ``index`` (``refine * k`` candidates, scored exactly as
    :func:`search_vector_index` scores), as a run frame."""
    from daft_retrieval.index.qdrant import QdrantOptions, QdrantSearcher

    settings = {**QdrantOptions.of(options).as_dict(), "url": index.url}
    searcher = QdrantSearcher(index.path, index.collection, index.url, index.dim, index.metric, k, settings)
    return rank_run(merge_hits(query_vectors, [searcher.top_k(col(S.EMBEDDING))]), k)


def dense_search(
    corpus: daft.DataFrame,
    queries: daft.DataFrame,
    *,
    model: str | DenseConfig | None = None,
    k: int = 100,
    metric: str = "cosine",
    index_dir: str | None = None,
    cache: EmbeddingCache | None = None,
    index: str = "exact",
    index_options: FaissOptions | QdrantOptions | dict | None = None,
    **options: Any,
) -> daft.DataFrame:
    """Dense retrieval end to end: index the corpus (at ``index_dir``, or a temporary folder), search, top ``k``.
    ``model``: a spec or a :class:`~daft_retrieval.encode.dense.DenseConfig` (``options``: its fields; default
    all-MiniLM-L6-v2); ``cache``: an :class:`~daft_retrieval.cache.store.EmbeddingCache` (texts it holds are not
    re-encoded). ``index``: ``"exact"`` (brute force), ``"faiss:FACTORY"`` (approximate; ``index_options``:
    ``ef_search``, ``nprobe``, ``refine``, see :class:`~daft_retrieval.index.faiss.FaissOptions`) or ``"qdrant"``
    (``index_options``: ``url`` of a server, else local mode; ``refine``, ``batch_size``, see
    :class:`~daft_retrieval.index.qdrant.QdrantOptions`)."""
    kind = index_kind(index)  # before any encoding
    if kind == "exact" and index_options:
        raise DataError(f"index_options apply to index='faiss:FACTORY' or 'qdrant', not {index!r}")
    if kind == "qdrant":
        from daft_retrieval.index.qdrant import QdrantOptions, check_server

        settings = QdrantOptions.of(index_options)
        check_server(settings.url, settings.timeout)
    else:
        settings = FaissOptions.of(index_options)
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
        build=lambda path: build_dense_index(
            corpus, path, config, metric=metric, cache=cache, index=index, index_options=_build_options(kind, settings)
        ),
        search=lambda built, vectors: _SEARCHES[kind](built, vectors, k, settings),
    )


def _build_options(kind: str, settings: Any) -> Any:
    """The options the build takes: Qdrant's (its server, its batch size); none for the others."""
    return settings if kind == "qdrant" else None


_SEARCHES = {
    "exact": lambda built, vectors, k, _: search_vector_index(built, vectors, k),
    "faiss": search_faiss_index,
    "qdrant": search_qdrant_index,
}
