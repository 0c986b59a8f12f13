"""Per-query results to explore in IPython: the run joined back to query texts, passages and judgements."""

from __future__ import annotations

import daft
from daft import col

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError
from daft_retrieval.load.dataset import Dataset

__all__ = ["explore"]


def explore(run: daft.DataFrame, dataset: Dataset, *, k: int | None = 10) -> daft.DataFrame:
    """The top ``k`` of each query with its text, the passage's title and text, and its judgement (null: unjudged).

    Columns: ``query_id, query, rank, doc_id, score, relevance, title, text``, sorted by query then rank.

    >>> explore(run, ds).where(daft.col("query_id") == "qa-01").show()  # doctest: +SKIP
    """
    S.require_columns(run, S.RUN, "run")
    if not isinstance(dataset, Dataset):
        raise DataError(f"explore needs the Dataset (dr.load_beir(...)), not {type(dataset).__name__}")
    if k is not None and k < 1:
        raise DataError(f"k must be >= 1 (or None for every rank), not {k}")
    top = run.where(col(S.RANK) <= k) if k is not None else run
    queries = dataset.queries.select(col(S.QUERY_ID), col(S.TEXT).alias("query"))
    return (
        top.join(queries, on=S.QUERY_ID, how="left")
        .join(dataset.qrels, on=[S.QUERY_ID, S.DOC_ID], how="left")
        .join(dataset.corpus, on=S.DOC_ID, how="left")
        .select(S.QUERY_ID, "query", S.RANK, S.DOC_ID, S.SCORE, S.RELEVANCE, S.TITLE, S.TEXT)
        .sort([S.QUERY_ID, S.RANK])
    )
