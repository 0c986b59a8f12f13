"""Read corpus and query tables (JSONL, Parquet, CSV/TSV; local, http(s), s3) into the fixed schemas.

Columns are found by their usual names (``_id``/``id``/``doc_id``, ``text``/``contents``, ...) or by an explicit
mapping ``{our_name: their_name}``. Tables are read by Daft, then checked: a missing id or text, or a duplicate id,
is a :class:`DataError` naming the id (or, for a missing id in JSONL, the line).
"""

from __future__ import annotations

from collections.abc import Mapping

import daft
from daft import DataType, col, lit

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError
from daft_retrieval.load.lines import check_jsonl, first_bad_line
from daft_retrieval.runner import persist

__all__ = ["read_corpus", "read_queries", "read_table"]

_CANDIDATES: dict[str, tuple[str, ...]] = {
    S.DOC_ID: ("doc_id", "_id", "id", "docid", "docno", "pid"),
    S.QUERY_ID: ("query_id", "_id", "id", "qid", "query-id"),
    S.TITLE: ("title",),
    S.TEXT: ("text", "contents", "body", "passage", "query"),
}

_FORMATS = {
    ".jsonl": "json",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "tsv",
}


def _format_of(path: str, format: str | None) -> str:
    if format is not None:
        return format
    name = path.rstrip("/").split("?")[0].lower()
    for suffix in sorted(_FORMATS, key=len, reverse=True):
        if name.endswith(suffix) or name.endswith(suffix + ".gz"):
            return _FORMATS[suffix]
    raise DataError(f"{path}: cannot tell the format from the name; pass format='json'|'parquet'|'csv'|'tsv'")


def read_table(path: str, *, format: str | None = None, io_config: daft.io.IOConfig | None = None) -> daft.DataFrame:
    """Read a JSONL, Parquet or CSV/TSV table as Daft reads it (no renaming, lazy).

    >>> read_table("data/demo/queries.jsonl").column_names
    ['_id', 'text']
    """
    fmt = _format_of(path, format)
    if fmt == "json":
        return daft.read_json(path, io_config=io_config)
    if fmt == "parquet":
        return daft.read_parquet(path, io_config=io_config)
    return daft.read_csv(path, delimiter="\t" if fmt == "tsv" else ",", io_config=io_config)


def _resolve_columns(df: daft.DataFrame, wanted: list[str], columns: Mapping[str, str] | None, path: str) -> dict:
    names = df.column_names
    chosen: dict[str, str | None] = {}
    for ours in wanted:
        if columns and ours in columns:
            if columns[ours] not in names:
                raise DataError(f"{path}: column {columns[ours]!r} (for {ours}) not found; found {names}")
            chosen[ours] = columns[ours]
        else:
            chosen[ours] = next((c for c in _CANDIDATES[ours] if c in names), None)
    return chosen


def _read_error(path: str, fmt: str, io_config, exc: Exception) -> DataError:
    """Daft raises its own core errors (at schema inference or at collect); find the line in Python."""
    if fmt == "json":
        check_jsonl(path, io_config, exc)
    return DataError(f"{path}: could not be read as {fmt}: {exc}")


def _materialize(df: daft.DataFrame, path: str, fmt: str, io_config) -> daft.DataFrame:
    try:
        return persist(df)
    except Exception as exc:
        raise _read_error(path, fmt, io_config, exc) from exc


def _missing_id_error(path: str, fmt: str, id_field: str, io_config, what: str) -> DataError:
    if fmt == "json":
        import json

        def problem(line: str) -> str | None:
            if line.strip() and json.loads(line).get(id_field) in (None, ""):
                return "missing"
            return None

        bad = first_bad_line(path, problem, io_config)
        if bad is not None:
            return DataError(f"{path}:{bad[0]}: {what} has no {id_field!r}: {bad[1][:120]!r}. Give every row an id.")
    return DataError(f"{path}: a {what} has no {id_field!r}. Give every row an id.")


def _check_ids(df: daft.DataFrame, id_col: str, path: str, what: str) -> None:
    dupes = S.duplicates(df, [id_col])
    if dupes:
        shown = ", ".join(f"{d[id_col]!r} ({d['n']}x)" for d in dupes)
        raise DataError(f"{path}: duplicate {what} id {shown}. Ids must be unique; remove or rename the copies.")


def _read_keyed(
    path: str,
    id_name: str,
    fields: list[str],
    what: str,
    columns: Mapping[str, str] | None,
    format: str | None,
    io_config,
    target: dict,
) -> daft.DataFrame:
    fmt = _format_of(path, format)
    try:
        raw = read_table(path, format=fmt, io_config=io_config)  # read_json infers the schema here: may fail
    except (DataError, FileNotFoundError):
        raise
    except Exception as exc:
        raise _read_error(path, fmt, io_config, exc) from exc
    chosen = _resolve_columns(raw, [id_name, *fields], columns, path)
    if chosen[id_name] is None:
        raise DataError(f"{path}: no id column for {what}s; found {raw.column_names}. Pass columns={{...}}.")
    if chosen[S.TEXT] is None:
        raise DataError(f"{path}: no text column for {what}s; found {raw.column_names}. Pass columns={{...}}.")
    if raw.schema()[chosen[id_name]].dtype in (DataType.float32(), DataType.float64()):
        raise DataError(
            f"{path}: {what} ids are read as decimal numbers (e.g. 3.0), which would not match the same ids "
            'elsewhere ("3"); write ids as strings or integers'
        )
    if fmt in ("csv", "tsv"):  # read our columns as written: an inferred integer id would turn "007" into "7"
        hints = {c: DataType.string() for c in chosen.values() if c is not None}
        raw = daft.read_csv(path, schema=hints, delimiter="\t" if fmt == "tsv" else ",", io_config=io_config)
    exprs = [col(chosen[id_name]).cast(target[id_name]).alias(id_name)]
    for f in fields:
        exprs.append(col(chosen[f]).cast(target[f]).alias(f) if chosen[f] else lit("").alias(f))
    df = _materialize(raw.select(*exprs), path, fmt, io_config)
    if df.where(col(id_name).is_null() | (col(id_name) == "")).count_rows():
        raise _missing_id_error(path, fmt, chosen[id_name], io_config, what)
    no_text = df.where(col(S.TEXT).is_null()).select(id_name).limit(5).to_pydict()[id_name]
    if no_text:
        raise DataError(
            f"{path}: {what} {no_text[0]!r} has no {chosen[S.TEXT]!r} field"
            f"{f' ({len(no_text)}+ rows)' if len(no_text) > 1 else ''}. Give it a text (an empty string is allowed)."
        )
    _check_ids(df, id_name, path, what)
    if S.TITLE in fields:
        df = df.with_column(S.TITLE, col(S.TITLE).fill_null(""))
    return persist(df)


def read_corpus(
    path: str,
    *,
    columns: Mapping[str, str] | None = None,
    format: str | None = None,
    io_config: daft.io.IOConfig | None = None,
) -> daft.DataFrame:
    """Read passages into ``doc_id, title, text`` (a missing title becomes ``""``), checked and materialized.

    ``columns`` maps our names to the file's, e.g. ``{"doc_id": "pid", "text": "passage"}``.

    >>> read_corpus("data/demo/corpus.jsonl").column_names
    ['doc_id', 'title', 'text']
    """
    return _read_keyed(path, S.DOC_ID, [S.TITLE, S.TEXT], "document", columns, format, io_config, S.CORPUS)


def read_queries(
    path: str,
    *,
    columns: Mapping[str, str] | None = None,
    format: str | None = None,
    io_config: daft.io.IOConfig | None = None,
) -> daft.DataFrame:
    """Read queries into ``query_id, text``, checked and materialized.

    >>> read_queries("data/demo/queries.jsonl").column_names
    ['query_id', 'text']
    """
    return _read_keyed(path, S.QUERY_ID, [S.TEXT], "query", columns, format, io_config, S.QUERIES)
