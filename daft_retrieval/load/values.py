"""Values of a JSONL or Parquet table that Daft would read other than as written: refused, naming the line.

Daft reads a JSON number id ``3.0`` as ``"3"`` (or ``3.0``), ``-0`` as ``"0"``, a text that is an object as null, a
relevance ``1.5`` as a float that a cast truncates to 1. So, as in a TREC file where ids are the strings written:

- an id is a JSON string or integer (Parquet: a string or integer column); ``3.0``, ``1e3``, ``-0``, ``true``, an
  object are refused, naming the line, with the fix: quote it.
- a title or text is a string (a title may be missing or null: ``""``); anything else is refused, naming the line.
- a relevance is an integer that fits in 64 bits; a float column holding whole numbers (as pandas writes) is read
  as integers, any other value (``1.5``, NaN, ``true``, ``"1"``, null) is refused, naming the line (Parquet: the
  query and doc).

The exact check reads the JSON lines in Python, only when Daft's schema, a null, or the scan's look for number ids
(:func:`id_needle`) says something is off.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import daft
from daft import DataType, col

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError
from daft_retrieval.load.lines import JsonFloat, JsonInt, json_rows
from daft_retrieval.load.scan import Source

__all__ = [
    "check_id_column",
    "check_text_column",
    "describe",
    "id_needle",
    "json_line_error",
    "relevance",
    "text_problem",
]

_MISSING = object()


def id_needle(keys: list[str]) -> re.Pattern:
    """A bytes pattern for a JSON key of ``keys`` whose value is a number with a fraction or exponent, or ``-0``.

    >>> bool(id_needle(["_id"]).search(b'{"_id": 3.0, "text": "x"}'))
    True
    """
    alternatives = b"|".join(re.escape(k.encode()) for k in dict.fromkeys(keys))
    return re.compile(rb'"(?:' + alternatives + rb')"\s*:\s*(?:-?[0-9]+[.eE]|-0[\s,}\]])')


def describe(value: object) -> str:
    """How a JSON value reads in a message: ``the number 3.0``, ``an object``, ``null``..."""
    if value is _MISSING:
        return "missing"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, (JsonInt, JsonFloat)):
        return f"the number {value.text}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    return "an object" if isinstance(value, dict) else "an array" if isinstance(value, list) else type(value).__name__


def json_line_error(source: Source, io_config, problem: Callable[[dict], str | None]) -> DataError | None:
    """A :class:`DataError` naming the first line of the JSONL ``source`` where ``problem(object)`` says what is
    wrong, or None when no line is."""
    for number, line, value in json_rows(source.path, io_config):
        found = problem(value)
        if found is not None:
            return DataError(f"{source.name}:{number}: {found}: {line[:120]!r}")
    return None


def _bad_id(value: object) -> bool:
    if isinstance(value, (bool, float, dict, list)):
        return True
    return isinstance(value, JsonInt) and value.text != str(int(value))  # -0


def check_id_column(raw: daft.DataFrame, source: Source, fmt: str, column: str, what: str, io_config) -> None:
    """Refuse ids of ``column`` that Daft would not read as written (see the module doc)."""
    dtype = raw.schema()[column].dtype
    usable = dtype.is_string() or dtype.is_integer() or dtype.is_null()
    if fmt == "json" and (not usable or source.flagged):

        def problem(row: dict) -> str | None:
            value = row.get(column)
            if not _bad_id(value):
                return None
            written = value.text if isinstance(value, (JsonInt, JsonFloat)) else json.dumps(value)[:40]
            return (
                f"the {what} id {column!r} is {describe(value)}, which Daft would not read as written; write ids "
                f"as JSON strings: {json.dumps(written)}"
            )

        error = json_line_error(source, io_config, problem)
        if error is not None:
            raise error
    if not usable:
        raise DataError(
            f"{source.name}: {what} ids ({column!r}) are read as {dtype}, expected strings or integers; write ids "
            'as strings, e.g. "3.0"'
        )


def check_text_column(
    raw: daft.DataFrame, source: Source, fmt: str, column: str, field: str, what: str, id_column: str, io_config
) -> None:
    """Refuse a ``field`` (title or text) column ``column`` whose values are not strings."""
    dtype = raw.schema()[column].dtype
    if dtype.is_string() or dtype.is_null():
        return
    error = json_line_error(source, io_config, text_problem(column, field, what, id_column)) if fmt == "json" else None
    raise error or DataError(f"{source.name}: column {column!r} ({field}) holds {dtype}, expected strings")


def text_problem(column: str, field: str, what: str, id_column: str) -> Callable[[dict], str | None]:
    """A JSON row check: the ``field`` at ``column`` is a string (a title may also be null or missing)."""

    def problem(row: dict) -> str | None:
        value = row.get(column, _MISSING)
        if isinstance(value, str) or (field == S.TITLE and value in (None, _MISSING)):
            return None
        return f"{what} {row.get(id_column)!r}: its {field} {column!r} is {describe(value)}, expected a string"

    return problem


def _integer(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    return isinstance(value, float) and value.is_integer() and abs(value) < 2.0**63


def relevance(raw: daft.DataFrame, source: Source, fmt: str, column: str, io_config) -> daft.Expression:
    """The expression reading relevance ``column`` as int64, after refusing any value that is not an integer."""
    dtype = raw.schema()[column].dtype
    value = col(column)
    if dtype.is_integer():
        bad = value.cast(DataType.int64()).is_null()  # null, or a uint64 past int64
    elif dtype.is_float32() or dtype.is_float64():
        bad = value.is_null() | value.is_nan() | value.is_inf() | (value != value.floor()) | (value.abs() >= 2.0**63)
    else:
        bad = None  # strings, booleans, objects: no value of the column is an integer
    if bad is not None and not raw.where(bad).limit(1).count_rows():
        return value.cast(DataType.int64())
    expected = "expected an integer relevance (a judgement such as 0, 1, 2)"
    if fmt == "json":

        def problem(row: dict) -> str | None:
            found = row.get(column, _MISSING)
            return None if _integer(found) else f"{column!r} is {describe(found)}, {expected}"

        error = json_line_error(source, io_config, problem)
        if error is not None:
            raise error
    if bad is None:
        raise DataError(f"{source.name}: column {column!r} holds {dtype}, {expected}")
    row = raw.where(bad).limit(1).to_pylist()[0]
    raise DataError(f"{source.name}: a judgement has {column!r} {row[column]!r} ({row}), {expected}")
