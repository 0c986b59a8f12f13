"""Read corpus and query tables (JSONL, Parquet, CSV/TSV; local, http(s), s3) into the fixed schemas.

Columns are found by their usual names (``_id``/``id``/``doc_id``, ``text``/``contents``, ...) or by an explicit
mapping ``{our_name: their_name}``. Tables are read by Daft, then checked: a missing id or text, or a duplicate id,
is a :class:`DataError` naming the id (or, in JSONL, the line). Values Daft would read other than as written (a
number id ``3.0``, a text that is an object, a relevance ``1.5``) are refused too (see
:mod:`~daft_retrieval.load.values`). Local files are scanned first and streams (``-``, pipes) read once (see
:mod:`~daft_retrieval.load.scan`).
"""

from __future__ import annotations

from collections.abc import Mapping

import daft
from daft import DataType, col, lit

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError
from daft_retrieval.load.lines import check_jsonl, daft_reason, is_daft_failure, json_rows
from daft_retrieval.load.scan import Source, open_source
from daft_retrieval.load.values import (
    check_id_column,
    check_text_column,
    id_needle,
    json_line_error,
    relevance,
    text_problem,
)
from daft_retrieval.runner import persist

__all__ = ["read_corpus", "read_qrels_table", "read_queries", "read_table"]

_CANDIDATES: dict[str, tuple[str, ...]] = {
    S.DOC_ID: ("doc_id", "_id", "id", "docid", "docno", "pid"),
    S.QUERY_ID: ("query_id", "_id", "id", "qid", "query-id"),
    S.TITLE: ("title",),
    S.TEXT: ("text", "contents", "body", "passage", "query"),
}

_QRELS_COLUMNS = {
    S.QUERY_ID: ("query_id", "query-id", "qid"),
    S.DOC_ID: ("doc_id", "corpus-id", "docid"),
    S.RELEVANCE: ("relevance", "score", "rel"),
}
_SCAN = {"json": "json", "csv": "csv", "tsv": "csv", "parquet": "binary"}

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


def _read_error(source: Source, fmt: str, io_config, exc: BaseException) -> DataError:
    """Daft raises its own core errors (at schema inference or at collect); find the line in Python."""
    if fmt == "json":
        check_jsonl(source.path, io_config, exc, name=source.name)
    return DataError(f"{source.name}: could not be read as {fmt}: {daft_reason(exc)}")


def _daft(step, source: Source, fmt: str, io_config):
    """``step()`` (a Daft read, or a collect), any failure of Daft's a :class:`DataError` naming the file."""
    try:
        return step()
    except DataError:
        raise
    except BaseException as exc:
        if not is_daft_failure(exc):
            raise
        raise _read_error(source, fmt, io_config, exc) from None


def _missing_id_error(source: Source, fmt: str, id_field: str, io_config, what: str) -> DataError:
    if fmt == "json":
        for number, line, row in json_rows(source.path, io_config):
            if row.get(id_field) in (None, ""):
                return DataError(
                    f"{source.name}:{number}: {what} has no {id_field!r}: {line[:120]!r}. Give every row an id."
                )
    return DataError(f"{source.name}: a {what} has no {id_field!r}. Give every row an id.")


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
    keys = [*_CANDIDATES[id_name], *([columns[id_name]] if columns and id_name in columns else [])]
    with open_source(path, kind=_SCAN[fmt], needle=id_needle(keys) if fmt == "json" else None) as source:
        raw = _daft(lambda: read_table(source.path, format=fmt, io_config=io_config), source, fmt, io_config)
        chosen = _resolve_columns(raw, [id_name, *fields], columns, source.name)
        if chosen[id_name] is None:
            raise DataError(f"{source.name}: no id column for {what}s; found {raw.column_names}. Pass columns={{...}}.")
        if chosen[S.TEXT] is None:
            raise DataError(
                f"{source.name}: no text column for {what}s; found {raw.column_names}. Pass columns={{...}}."
            )
        if fmt in ("csv", "tsv"):  # read our columns as written: an inferred integer id would turn "007" into "7"
            hints = {c: DataType.string() for c in chosen.values() if c is not None}
            delimiter = "\t" if fmt == "tsv" else ","
            raw = _daft(
                lambda: daft.read_csv(source.path, schema=hints, delimiter=delimiter, io_config=io_config),
                source,
                fmt,
                io_config,
            )
        else:
            check_id_column(raw, source, fmt, chosen[id_name], what, io_config)
            for f in fields:
                if chosen[f] is not None:
                    check_text_column(raw, source, fmt, chosen[f], f, what, chosen[id_name], io_config)
        exprs = [col(chosen[id_name]).cast(target[id_name]).alias(id_name)]
        for f in fields:
            exprs.append(col(chosen[f]).cast(target[f]).alias(f) if chosen[f] else lit("").alias(f))
        df = _daft(lambda: persist(raw.select(*exprs)), source, fmt, io_config)
        if df.where(col(id_name).is_null() | (col(id_name) == "")).count_rows():
            raise _missing_id_error(source, fmt, chosen[id_name], io_config, what)
        _check_nulls(df, source, fmt, chosen, id_name, what, io_config)
        _check_ids(df, id_name, source.name, what)
        if S.TITLE in fields:
            df = df.with_column(S.TITLE, col(S.TITLE).fill_null(""))
        return persist(df)


def _check_nulls(
    df: daft.DataFrame, source: Source, fmt: str, chosen: dict, id_name: str, what: str, io_config
) -> None:
    """A text that Daft read as null: missing, null, or (in JSONL) a value that is not a string, named by line; a
    title may be missing or null (it becomes ""), but not an object."""
    for f in [c for c in (S.TITLE, S.TEXT) if chosen.get(c) is not None]:
        if not df.where(col(f).is_null()).limit(1).count_rows():
            continue
        if fmt == "json":
            error = json_line_error(source, io_config, text_problem(chosen[f], f, what, chosen[id_name]))
            if error is not None:
                raise error
        if f == S.TEXT:
            ids = df.where(col(f).is_null()).select(id_name).limit(5).to_pydict()[id_name]
            raise DataError(
                f"{source.name}: {what} {ids[0]!r} has no {chosen[f]!r} field"
                f"{f' ({len(ids)}+ rows)' if len(ids) > 1 else ''}. Give it a text (an empty string is allowed)."
            )


def read_qrels_table(
    path: str, *, format: str | None = None, io_config: daft.io.IOConfig | None = None
) -> daft.DataFrame:
    """Read judgements from a JSONL or Parquet table with columns ``query-id``/``query_id``,
    ``corpus-id``/``doc_id`` and ``score``/``relevance`` into ``query_id, doc_id, relevance``, checked as
    :func:`~daft_retrieval.load.trec.read_qrels` checks a TREC file.

    >>> read_qrels_table("qrels.jsonl").column_names  # doctest: +SKIP
    ['query_id', 'doc_id', 'relevance']
    """
    from daft_retrieval.load.trec import check_qrels

    fmt = _format_of(path, format)
    if fmt not in ("json", "parquet"):
        raise DataError(f"{path}: qrels tables are JSONL or Parquet, not {fmt}; or give a TREC or BEIR TSV qrels file")
    needle = id_needle([*_QRELS_COLUMNS[S.QUERY_ID], *_QRELS_COLUMNS[S.DOC_ID]])
    with open_source(path, kind=_SCAN[fmt], needle=needle if fmt == "json" else None) as source:
        raw = _daft(lambda: read_table(source.path, format=fmt, io_config=io_config), source, fmt, io_config)
        chosen = {
            ours: next((c for c in theirs if c in raw.column_names), None) for ours, theirs in _QRELS_COLUMNS.items()
        }
        missing = [ours for ours, theirs in chosen.items() if theirs is None]
        if missing:
            raise DataError(
                f"{source.name}: qrels need columns query-id, corpus-id and score (or {', '.join(S.QRELS)}); "
                f"missing {missing}, found {raw.column_names}"
            )
        check_id_column(raw, source, fmt, chosen[S.QUERY_ID], "query", io_config)
        check_id_column(raw, source, fmt, chosen[S.DOC_ID], "document", io_config)
        rel = relevance(raw, source, fmt, chosen[S.RELEVANCE], io_config)
        exprs = [col(chosen[S.QUERY_ID]).cast(DataType.string()).alias(S.QUERY_ID)]
        exprs += [col(chosen[S.DOC_ID]).cast(DataType.string()).alias(S.DOC_ID), rel.alias(S.RELEVANCE)]
        qrels = _daft(lambda: persist(raw.select(*exprs)), source, fmt, io_config)
        for ours in (S.QUERY_ID, S.DOC_ID):
            if qrels.where(col(ours).is_null() | (col(ours) == "")).count_rows():
                raise _missing_id_error(source, fmt, chosen[ours], io_config, "judgement")
        return check_qrels(qrels, source.name)


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
