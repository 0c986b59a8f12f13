"""Column names and schemas of the frames every step passes along.

Every frame in daft_retrieval uses these names; nothing else in the package spells them out.

- corpus:  ``doc_id, title, text``
- queries: ``query_id, text``
- qrels:   ``query_id, doc_id, relevance``
- run:     ``query_id, doc_id, score, rank`` (the output of every retriever, fusion and reranker)
- per-query evaluation: ``query_id, measure, value``
- encoded texts: ``embedding`` (dense), ``tokens`` (flat token matrices), ``sparse`` (``list<struct{term, weight}>``)
- postings and query terms: ``term``, ``weight`` and one ``value`` (also the encoded column of the cache's parts)
- an index folder: ``index.json`` (its description and shards), ``centroids.npy`` (late interaction)

Ids are strings; relevance is an integer (<= 0 is non-relevant); scores are float64; ranks are 1-based int64.
"""

from __future__ import annotations

from collections.abc import Iterable

import daft
from daft import DataType

from daft_retrieval.errors import DataError

__all__ = [
    "CENTROIDS_FILE",
    "CORPUS",
    "DOC_ID",
    "EMBEDDING",
    "INDEX_FILE",
    "MEASURE",
    "PER_QUERY",
    "QRELS",
    "QUERIES",
    "QUERY_ID",
    "RANK",
    "RELEVANCE",
    "RUN",
    "SCORE",
    "SPARSE",
    "TERM",
    "TEXT",
    "TITLE",
    "TOKENS",
    "VALUE",
    "WEIGHT",
    "document_text",
    "duplicates",
    "require_columns",
    "require_unique_pairs",
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
EMBEDDING = "embedding"  # a dense vector, Embedding[float32, dim]
TOKENS = "tokens"  # a flat token matrix, list<float32> of n_tokens x dim
SPARSE = "sparse"  # a sparse vector, list<struct{term, weight}>
TERM = "term"
WEIGHT = "weight"  # a posting's precomputed score contribution (BM25), or a sparse vector's weight
INDEX_FILE = "index.json"
CENTROIDS_FILE = "centroids.npy"

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
    if not isinstance(df, daft.DataFrame):
        hint = " (from pandas: daft.from_pandas(df))" if type(df).__module__.startswith("pandas") else ""
        raise DataError(f"{what} must be a Daft DataFrame, not {type(df).__name__}{hint}")
    found = df.column_names
    missing = [c for c in columns if c not in found]
    if missing:
        raise DataError(f"{what} is missing columns {missing} (found {found})")


def conform(df: daft.DataFrame, schema: dict[str, DataType], what: str) -> daft.DataFrame:
    """Select ``schema``'s columns of ``df`` in order, cast to their types (extra columns are dropped)."""
    require_columns(df, schema, what)
    return df.select(*[daft.col(name).cast(dtype) for name, dtype in schema.items()])


def require_values(df: daft.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise :class:`DataError` when a row of ``df`` has no usable value in ``columns``: null (as a cast leaves a
    non-number), or NaN in a float column. Names the count and the first such row.

    >>> require_values(daft.from_pydict({"doc_id": ["a", "b"], "score": [1.0, None]}), ["score"], "run")
    Traceback (most recent call last):
    ...
    daft_retrieval.errors.DataError: run: 1 row has no usable 'score' (null, NaN or not a number), e.g. {...}; ...
    """
    columns = list(columns)
    bad = None
    for c in columns:
        missing = daft.col(c).is_null()
        if df.schema()[c].dtype in (DataType.float32(), DataType.float64()):
            missing = missing | daft.col(c).is_nan()
        bad = missing if bad is None else bad | missing
    rows = df.where(bad)
    n = rows.count_rows()
    if n:
        first = rows.limit(1).to_pylist()[0]
        names = " or ".join(repr(c) for c in columns if first[c] is None or first[c] != first[c]) or repr(columns[0])
        raise DataError(
            f"{what}: {n} row{'s' if n > 1 else ''} {'have' if n > 1 else 'has'} no usable {names} (null, NaN or not a "
            f"number), e.g. {first}; fix or drop such rows"
        )


def require_integers(df: daft.DataFrame, column: str, what: str) -> None:
    """Raise :class:`DataError` when the float ``column`` of ``df`` holds a value that is not a whole number (a cast
    to int64 would truncate ``1.5`` to 1). Other types pass: a cast leaves their non-numbers null.

    >>> require_integers(daft.from_pydict({"relevance": [1.0, 1.5]}), "relevance", "qrels")
    Traceback (most recent call last):
    ...
    daft_retrieval.errors.DataError: qrels: relevance 1.5 is not an integer, e.g. {'relevance': 1.5}; ...
    """
    dtype = df.schema()[column].dtype
    if not (dtype.is_float32() or dtype.is_float64()):
        return
    value = daft.col(column)
    bad = df.where(value.not_null() & (value.is_nan() | value.is_inf() | (value != value.floor()))).limit(1)
    rows = bad.to_pylist()
    if rows:
        raise DataError(
            f"{what}: {column} {rows[0][column]!r} is not an integer, e.g. {rows[0]}; give whole numbers (0, 1, 2)"
        )


def _may_repeat(df: daft.DataFrame, keys: list[str]) -> bool:
    """Whether two rows of ``df`` may share ``keys``: two share a 64-bit hash of them (sorted in numpy: some 5x
    faster than Daft's group-by on 10M runs rows; a hash collision only costs the exact group-by)."""
    import numpy as np

    digest = daft.col(keys[0]).hash()
    for key in keys[1:]:
        digest = daft.col(key).hash(seed=digest)
    hashes = np.sort(df.select(digest.alias("_h")).to_arrow().column("_h").to_numpy())
    return bool((hashes[1:] == hashes[:-1]).any())


def duplicates(df: daft.DataFrame, keys: list[str], limit: int = 5) -> list[dict]:
    """Up to ``limit`` key combinations that occur more than once, each with its count ``n``.

    >>> duplicates(daft.from_pydict({"doc_id": ["a", "b", "a"]}), ["doc_id"])
    [{'doc_id': 'a', 'n': 2}]
    """
    if not _may_repeat(df, keys):
        return []
    counts = df.groupby(*keys).agg(daft.col(keys[0]).count().alias("n"))
    return counts.where(daft.col("n") > 1).limit(limit).to_pylist()


def require_unique_pairs(frame: daft.DataFrame, what: str, verb: str, fix: str) -> None:
    """Raise a :class:`DataError` naming a (query, doc) that ``frame`` (a run or qrels) holds more than once.

    >>> require_unique_pairs(daft.from_pydict({QUERY_ID: ["q"], DOC_ID: ["d"]}), "run", "lists", "keep one")
    """
    twice = duplicates(frame, [QUERY_ID, DOC_ID], limit=1)
    if twice:
        d = twice[0]
        raise DataError(f"{what}: query {d[QUERY_ID]!r} {verb} doc {d[DOC_ID]!r} {d['n']} times; {fix}")


def document_text() -> daft.Expression:
    """``title + " " + text``, stripped: the BEIR/MTEB convention for a passage's text (column ``document``).

    >>> daft.from_pydict({"title": ["T"], "text": ["x"]}).select(document_text()).to_pydict()
    {'document': ['T x']}
    """
    text = daft.functions.concat_ws(" ", daft.col(TITLE).fill_null(""), daft.col(TEXT).fill_null(""))
    return text.strip().alias("document")
