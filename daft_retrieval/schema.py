"""Column names and schemas of the frames every step passes along.

Every frame in daft_retrieval uses these names; nothing else in the package spells them out.

- corpus:  ``doc_id, title, text``
- queries: ``query_id, text``
- qrels:   ``query_id, doc_id, relevance``
- run:     ``query_id, doc_id, score, rank`` (the output of every retriever, fusion and reranker)
- per-query evaluation: ``query_id, measure, value``

Ids are strings; relevance is an integer (<= 0 is non-relevant); scores are float64; ranks are 1-based int64.
"""

from __future__ import annotations

from collections.abc import Iterable

import daft
from daft import DataType

from daft_retrieval.errors import DataError

__all__ = [
    "CORPUS",
    "DOC_ID",
    "MEASURE",
    "PER_QUERY",
    "QRELS",
    "QUERIES",
    "QUERY_ID",
    "RANK",
    "RELEVANCE",
    "RUN",
    "SCORE",
    "TEXT",
    "TITLE",
    "VALUE",
    "duplicates",
    "require_columns",
]

QUERY_ID = "query_id"
DOC_ID = "doc_id"
TITLE = "title"
TEXT = "text"
RELEVANCE = "relevance"
SCORE = "score"
RANK = "rank"
MEASURE = "measure"
VALUE = "value"

CORPUS: dict[str, DataType] = {DOC_ID: DataType.string(), TITLE: DataType.string(), TEXT: DataType.string()}
QUERIES: dict[str, DataType] = {QUERY_ID: DataType.string(), TEXT: DataType.string()}
QRELS: dict[str, DataType] = {
    QUERY_ID: DataType.string(),
    DOC_ID: DataType.string(),
    RELEVANCE: DataType.int64(),
}
RUN: dict[str, DataType] = {
    QUERY_ID: DataType.string(),
    DOC_ID: DataType.string(),
    SCORE: DataType.float64(),
    RANK: DataType.int64(),
}
PER_QUERY: dict[str, DataType] = {
    QUERY_ID: DataType.string(),
    MEASURE: DataType.string(),
    VALUE: DataType.float64(),
}


def require_columns(df: daft.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise :class:`DataError` unless ``df`` has every column in ``columns``.

    >>> require_columns(daft.from_pydict({"query_id": ["q1"]}), ["query_id", "doc_id"], "run")
    Traceback (most recent call last):
    ...
    daft_retrieval.errors.DataError: run is missing columns ['doc_id'] (found ['query_id'])
    """
    found = df.column_names
    missing = [c for c in columns if c not in found]
    if missing:
        raise DataError(f"{what} is missing columns {missing} (found {found})")


def conform(df: daft.DataFrame, schema: dict[str, DataType], what: str) -> daft.DataFrame:
    """Select ``schema``'s columns of ``df`` in order, cast to their types (extra columns are dropped)."""
    require_columns(df, schema, what)
    return df.select(*[daft.col(name).cast(dtype) for name, dtype in schema.items()])


def duplicates(df: daft.DataFrame, keys: list[str], limit: int = 5) -> list[dict]:
    """Up to ``limit`` key combinations that occur more than once, each with its count ``n``.

    >>> duplicates(daft.from_pydict({"doc_id": ["a", "b", "a"]}), ["doc_id"])
    [{'doc_id': 'a', 'n': 2}]
    """
    counts = df.groupby(*keys).agg(daft.col(keys[0]).count().alias("n"))
    return counts.where(daft.col("n") > 1).limit(limit).to_pylist()
