"""SPLADE retrieval: sparse vectors of documents as postings, of queries as query terms; score = dot product.

score(q, d) = sum over terms t of w_q(t) x w_d(t) (Formal et al., SIGIR 2021), computed by the same join and
groupby as BM25 (:func:`daft_retrieval.retrieve.postings.search_postings`).

    >>> ds = load_beir("data/demo")  # doctest: +SKIP
    >>> run = splade_search(ds.corpus, ds.queries, model="splade-tiny", k=100)  # doctest: +SKIP

``index="qdrant"``: the documents' sparse vectors go into a Qdrant collection (embedded local mode, or a server:
``index_options={"url": ...}``) that finds the candidates, scored again exactly as the postings score
(:mod:`daft_retrieval.index.qdrant`).

    >>> run = splade_search(ds.corpus, ds.queries, index="qdrant", index_dir="data/index/demo-splade")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import daft
from daft import col

from daft_retrieval import schema as S
from daft_retrieval.encode.column import encode
from daft_retrieval.encode.sparse import SparseConfig
from daft_retrieval.errors import DataError
from daft_retrieval.index.postings import Postings, build_postings
from daft_retrieval.retrieve.postings import search_postings
from daft_retrieval.run import merge_hits, rank_run

if TYPE_CHECKING:
    from daft_retrieval.cache.store import EmbeddingCache
    from daft_retrieval.index.qdrant import QdrantIndex, QdrantOptions

__all__ = ["search_qdrant_sparse", "sparse_rows", "splade_index", "splade_search"]

_QW = "_query_weight"


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
    index: str = "exact",
    index_dir: str | None = None,
    index_options: QdrantOptions | dict | None = None,
    **options: Any,
) -> daft.DataFrame:
    """Top-``k`` SPLADE run for ``queries`` (``query_id, text``) over a corpus frame or a :func:`splade_index`;
    ``model``: a spec or a :class:`~daft_retrieval.encode.sparse.SparseConfig` (``options``: its fields);
    ``cache``: an embedding cache. ``index``: ``"exact"`` (postings) or ``"qdrant"`` (a corpus frame only; kept
    at ``index_dir``, else in a temporary folder; ``index_options``: :class:`~daft_retrieval.index.qdrant.
    QdrantOptions`)."""
    from daft_retrieval.index.kind import index_kind

    kind = index_kind(index, retriever="splade")  # before any encoding
    config = SparseConfig.of(model, **options)
    S.require_columns(queries, [S.QUERY_ID, S.TEXT], "queries")
    if kind == "qdrant":
        return _qdrant_search(corpus_or_index, queries, config, k, cache, index_dir, index_options)
    if index_dir is not None or index_options:
        raise DataError(f"index_dir and index_options apply to index='qdrant', not {index!r}")
    is_index = isinstance(corpus_or_index, Postings)
    index = corpus_or_index if is_index else splade_index(corpus_or_index, model=config, cache=cache)
    vectors = encode(queries, S.QUERY_ID, col(S.TEXT), config, role="query", cache=cache)
    return search_postings(sparse_rows(vectors, S.QUERY_ID), index, k, weight=S.VALUE)


def _qdrant_search(corpus, queries, config: SparseConfig, k: int, cache, index_dir, index_options) -> daft.DataFrame:
    """SPLADE through a Qdrant collection built (at ``index_dir``, or a temporary folder) from ``corpus``."""
    from daft_retrieval.index.qdrant import QdrantOptions, build_qdrant_sparse_index, check_server
    from daft_retrieval.retrieve.indexed import indexed_search

    if isinstance(corpus, Postings):
        raise DataError("index='qdrant' builds its own index: give the corpus frame, not postings")
    S.require_columns(corpus, [S.DOC_ID, S.TITLE, S.TEXT], "corpus")
    if k < 1:
        raise DataError(f"k must be >= 1, not {k}")
    settings = QdrantOptions.of(index_options)
    check_server(settings.url, settings.timeout)  # before any encoding

    def build(path: str) -> QdrantIndex:
        vectors = encode(corpus, S.DOC_ID, S.document_text(), config, role="document", cache=cache)
        return build_qdrant_sparse_index(sparse_rows(vectors, S.DOC_ID), path, settings, encoder=config.as_dict())

    return indexed_search(
        index_dir,
        "daft-retrieval-splade-qdrant-",
        queries=lambda: encode(queries, S.QUERY_ID, col(S.TEXT), config, role="query", cache=cache),
        build=build,
        search=lambda built, vectors: search_qdrant_sparse(built, sparse_rows(vectors, S.QUERY_ID), k, settings),
    )


def search_qdrant_sparse(
    index: QdrantIndex, query_rows: daft.DataFrame, k: int, options: QdrantOptions | dict | None = None
) -> daft.DataFrame:
    """Top ``k`` per query (``query_id, term, value`` rows, summed per term and mapped to term ids as the postings
    search does) from the sparse Qdrant collection of ``index``, scored exactly, as a run frame."""
    from daft_retrieval.index.postings import TERM_ID
    from daft_retrieval.index.qdrant import VOCABULARY_FILE, QdrantOptions, QdrantSearcher

    vocabulary = daft.read_parquet(os.path.join(index.path, VOCABULARY_FILE))
    query = query_rows.groupby(S.QUERY_ID, S.TERM).agg(col(S.VALUE).sum().alias(_QW))
    query = query.join(vocabulary, on=S.TERM).select(S.QUERY_ID, TERM_ID, _QW)
    lists = query.groupby(S.QUERY_ID).agg(col(TERM_ID).list_agg().alias(TERM_ID), col(_QW).list_agg().alias(_QW))
    settings = {**QdrantOptions.of(options).as_dict(), "url": index.url}
    searcher = QdrantSearcher(index.path, index.collection, index.url, index.dim, index.metric, k, settings)
    return rank_run(merge_hits(lists, [searcher.top_k_sparse(col(TERM_ID), col(_QW))]), k)
