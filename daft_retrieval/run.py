"""The run frame ``query_id, doc_id, score, rank`` that every retriever, fusion and reranker returns."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import daft
from daft import DataType, Expression, Window, col
from daft.functions import row_number

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError

__all__ = ["check_runs", "merge_hits", "rank_run"]


def rank_run(scored: daft.DataFrame, k: int | None = None) -> daft.DataFrame:
    """Rank ``query_id, doc_id, score`` rows into a run frame, keeping the top ``k`` per query (all for None).

    Ranks are 1-based and follow trec_eval's order: score descending, then doc id descending, so a run written
    to a TREC file and evaluated anywhere keeps the same order. Any existing ``rank`` column is replaced.

    >>> scored = daft.from_pydict({"query_id": ["q"] * 3, "doc_id": ["a", "b", "c"], "score": [1.0, 2.0, 1.0]})
    >>> rank_run(scored, k=2).sort("rank").to_pydict()["doc_id"]
    ['b', 'c']
    """
    S.require_columns(scored, [S.QUERY_ID, S.DOC_ID, S.SCORE], "run")
    if k is not None and k < 1:
        raise DataError(f"k must be >= 1, not {k}")
    order = Window().partition_by(S.QUERY_ID).order_by(S.SCORE, S.DOC_ID, desc=[True, True])
    ranked = scored.select(
        col(S.QUERY_ID).cast(DataType.string()),
        col(S.DOC_ID).cast(DataType.string()),
        col(S.SCORE).cast(DataType.float64()),
    ).with_column(S.RANK, row_number().over(order).cast(DataType.int64()))
    return ranked.where(col(S.RANK) <= k) if k is not None else ranked


def check_runs(runs: Sequence[daft.DataFrame], what: str) -> list[daft.DataFrame]:
    """The run frames of a fusion, checked: a list (not one frame) of at least one frame, each with
    ``query_id, doc_id, score``.

    >>> check_runs(daft.from_pydict({"query_id": ["q"]}), "rrf")
    Traceback (most recent call last):
    ...
    daft_retrieval.errors.DataError: rrf takes a list of run frames, e.g. rrf([bm25, dense])
    """
    if isinstance(runs, daft.DataFrame) or not isinstance(runs, Sequence):
        raise DataError(f"{what} takes a list of run frames, e.g. {what}([bm25, dense])")
    if not runs:
        raise DataError(f"{what} needs at least one run")
    for i, run in enumerate(runs, start=1):
        S.require_columns(run, [S.QUERY_ID, S.DOC_ID, S.SCORE], f"{what} run {i}")
    return list(runs)


_HITS = "_hits"


def merge_hits(queries: daft.DataFrame, shard_hits: Iterable[Expression], doc: str = S.DOC_ID) -> daft.DataFrame:
    """``query_id, doc, score`` rows from every shard: each expression (a searcher's batch method over a column of
    ``queries``) gives each query a ``list<struct{doc, score}>`` of its hits in one shard.

    >>> rank_run(merge_hits(query_vectors, [s.top_k(col("embedding")) for s in searchers]), k)  # doctest: +SKIP
    """
    parts = [queries.select(col(S.QUERY_ID), hits.alias(_HITS)) for hits in shard_hits]
    if not parts:
        raise ValueError("merge_hits needs at least one shard")
    stacked = parts[0]
    for part in parts[1:]:
        stacked = stacked.concat(part)
    flat = stacked.explode(_HITS).where(col(_HITS).not_null())
    return flat.select(S.QUERY_ID, col(_HITS)[doc].alias(doc), col(_HITS)[S.SCORE].alias(S.SCORE))
