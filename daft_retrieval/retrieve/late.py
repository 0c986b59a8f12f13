"""Late-interaction retrieval (ColBERT-style): token embeddings, centroid-pruned candidates, exact MaxSim.

>>> ds = load_beir("data/demo")  # doctest: +SKIP
>>> run = late_search(ds.corpus, ds.queries, model=TokenConfig("all-MiniLM-L6-v2"), k=100)  # doctest: +SKIP
>>> exact = late_search(ds.corpus, ds.queries, k=100, nprobe=0, nbits=0)  # brute force, fp32  # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import daft
from daft import col

from daft_retrieval import schema as S
from daft_retrieval.encode.column import encode
from daft_retrieval.encode.tokens import TokenConfig
from daft_retrieval.errors import DataError
from daft_retrieval.index.late import DEFAULT_NBITS, LateIndex, LateSearcher, build_late_index, check_nbits
from daft_retrieval.retrieve.indexed import indexed_search
from daft_retrieval.run import merge_hits, rank_run
from daft_retrieval.runner import persist

if TYPE_CHECKING:
    from daft_retrieval.cache.store import EmbeddingCache

__all__ = ["build_late_index_for", "late_search", "search_late_index"]


def build_late_index_for(
    corpus: daft.DataFrame,
    path: str,
    model: str | TokenConfig | None = None,
    *,
    cache: EmbeddingCache | None = None,
    **options: Any,
) -> LateIndex:
    """Token-embed ``corpus`` (title + " " + text) with ``model`` (a spec or a
    :class:`~daft_retrieval.encode.tokens.TokenConfig`) and write a late-interaction index at ``path``;
    ``options``: :func:`~daft_retrieval.index.late.build_late_index`'s (``nbits``, centroids, sample, ...). With a
    ``cache`` the token vectors are read from it as the index is written, never all held in memory."""
    config = TokenConfig.of(model)
    S.require_columns(corpus, [S.DOC_ID, S.TITLE, S.TEXT], "corpus")
    embedded = encode(corpus, S.DOC_ID, S.document_text(), config, role="document", cache=cache)
    options.setdefault("reread", cache is not None)
    return build_late_index(embedded, path, dim=config.dimensions(), encoder=config.as_dict(), **options)


def search_late_index(
    index: LateIndex, query_tokens: daft.DataFrame, k: int, *, nprobe: int = 4, candidates: int = 1024
) -> daft.DataFrame:
    """Top ``k`` per query (``query_id, tokens`` rows) from every shard, merged into a run frame."""
    centroids = os.path.join(index.path, S.CENTROIDS_FILE)
    codec = os.path.join(index.path, index.codec) if index.nbits else None
    searchers = (
        LateSearcher(os.path.join(index.path, shard), centroids, index.dim, k, nprobe, candidates, codec)
        for shard in index.shards
    )
    return rank_run(merge_hits(query_tokens, (searcher.top_k(col(S.TOKENS)) for searcher in searchers)), k)


def late_search(
    corpus: daft.DataFrame,
    queries: daft.DataFrame,
    *,
    model: str | TokenConfig | None = None,
    k: int = 100,
    nprobe: int = 4,
    candidates: int = 1024,
    nbits: int = DEFAULT_NBITS,
    index_dir: str | None = None,
    cache: EmbeddingCache | None = None,
    **options: Any,
) -> daft.DataFrame:
    """Late-interaction retrieval end to end (index at ``index_dir`` or in a temporary folder); ``nprobe=0`` is
    brute-force MaxSim over every document; ``nbits``: 2 or 4 bits per dimension of each token's residual to its
    centroid (default 4), 0 for fp32 token vectors (with ``nprobe=0``: the exact reference). ``model``: a spec or a
    :class:`~daft_retrieval.encode.tokens.TokenConfig` (``options``: its fields; default all-MiniLM-L6-v2);
    ``cache``: an embedding cache for the token vectors."""
    config = TokenConfig.of(model, **options)
    S.require_columns(queries, [S.QUERY_ID, S.TEXT], "queries")
    S.require_columns(corpus, [S.DOC_ID, S.TITLE, S.TEXT], "corpus")
    for name, value, least in (("k", k, 1), ("nprobe", nprobe, 0), ("candidates", candidates, 1)):
        if value < least:  # before any encoding
            raise DataError(f"{name} must be >= {least}, not {value}")
    check_nbits(nbits)
    return indexed_search(
        index_dir,
        "daft-retrieval-late-",
        queries=lambda: persist(encode(queries, S.QUERY_ID, col(S.TEXT), config, role="query", cache=cache)),
        build=lambda path: build_late_index_for(corpus, path, config, cache=cache, nbits=nbits),
        search=lambda index, tokens: search_late_index(index, tokens, k, nprobe=nprobe, candidates=candidates),
    )
