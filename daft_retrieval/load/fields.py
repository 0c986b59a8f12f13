"""Lines of whitespace-separated fields (TREC runs and qrels, BEIR qrels TSV), read as trec_eval 10.0 reads them.

- Fields are separated by ASCII whitespace (space, tab, ``\\v``, ``\\f``, ``\\r``: C's ``isspace``), as in
  trec_eval; any other character, a no-break space included, is part of a field.
- A line whose first field starts with ``#`` is a comment and skipped, as are blank lines.
- Numbers are read as Daft reads them: an integer is ASCII digits with an optional sign and fits in 64 bits; a
  float is what Python's ``float()`` reads, less ``_`` and non-ASCII digits.

Daft splits and casts every line (fast); only when a line fails is the file read again in Python, with the same
rules, to name the first bad line in a :class:`DataError`.

>>> split_fields(" q1\\tQ0 d1\\u00a0x 1 2.5 run ")
['q1', 'Q0', 'd1\\xa0x', '1', '2.5', 'run']
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

import daft
from daft import DataType, col, lit

from daft_retrieval.errors import DataError, RemoteError
from daft_retrieval.load.lines import BOM, daft_reason, is_daft_failure, iter_lines
from daft_retrieval.load.scan import Source
from daft_retrieval.runner import persist

__all__ = ["Layout", "field_problem", "first_fields", "looks_like_number", "parse", "split_fields"]

_WS = " \t\x0b\x0c\r"
_SPLIT = "[ \t\x0b\x0c\r]+"
_INT = re.compile(r"[+-]?[0-9]+")
_DTYPES = {"str": DataType.string(), "int": DataType.int64(), "float": DataType.float64()}


class Layout(NamedTuple):
    """The fields of a line: ``kinds`` ("str", "int", "float") and column ``names`` (None: read, then dropped);
    ``more``: further fields are ignored (as trec_eval ignores them after a run's tag)."""

    kinds: tuple[str, ...]
    names: tuple[str | None, ...]
    fmt: str
    more: bool = False


def split_fields(line: str) -> list[str]:
    """The fields of ``line`` split on ASCII whitespace (no fields for a blank line)."""
    stripped = line.strip(_WS + "\n")
    return re.split(_SPLIT, stripped) if stripped else []


def looks_like_number(text: str) -> bool:
    """Whether Python reads ``text`` as a number at all (``1.5``, ``1_000``, ``nan``): a header has no such field."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _int_problem(i: int, part: str) -> str | None:
    if _INT.fullmatch(part):
        return None if -(2**63) <= int(part) < 2**63 else f"field {i} is an integer past 64 bits, found {part!r}"
    if looks_like_number(part) and part.isascii() and "_" not in part:
        return f"field {i} must be an integer, found {part!r}"
    if looks_like_number(part):
        return f"field {i} must be an integer in plain ASCII digits (no '_', no other digits), found {part!r}"
    return f"field {i} must be a number (int), found {part!r}"


def _float_problem(i: int, part: str) -> str | None:
    if not looks_like_number(part):
        return f"field {i} must be a number (float), found {part!r}"
    if not part.isascii() or "_" in part:
        return f"field {i} must be a number in plain ASCII digits (no '_', no other digits), found {part!r}"
    if math.isnan(float(part)):
        return f"field {i} is NaN, which has no place in a ranking"
    return None


def field_problem(fields: list[str], layout: Layout) -> str | None:
    """What is wrong with the fields of one non-blank, non-comment line, or None.

    >>> field_problem(["q1", "0", "d1", "1_000"], Layout(("str", "str", "str", "int"), ("q", None, "d", "r"), "qrels"))
    "field 4 must be an integer in plain ASCII digits (no '_', no other digits), found '1_000'"
    """
    n = len(layout.kinds)
    if len(fields) < n or (len(fields) > n and not layout.more):
        more = f" (any after the {n}th are ignored)" if layout.more else ""
        return f"expected {n} fields, found {len(fields)}{more}"
    for i, (part, kind) in enumerate(zip(fields, layout.kinds), start=1):
        found = _int_problem(i, part) if kind == "int" else _float_problem(i, part) if kind == "float" else None
        if found is not None:
            return found
    return None


def _lines(source: Source, io_config) -> daft.DataFrame:
    """The file's lines as a list column ``f`` of fields (blank and comment lines left out) and ``_odd`` (the line
    holds a NUL or a byte-order mark: only looked for in remote files, which are not scanned)."""
    text = col("text")
    if not source.local:  # not scanned (see load.scan): drop a mark at the start of any line, refuse others
        text = text.regexp_replace(f"^{BOM}", "")
    text = text.regexp_replace(f"^{_SPLIT}|{_SPLIT}$", "")
    frame = daft.read_text(source.path, skip_blank_lines=False, io_config=io_config)
    columns = [text.regexp_split(_SPLIT).alias("f")]
    if not source.local:
        columns.append(text.regexp(f"[\x00{BOM}]").alias("_odd"))
    first = col("f").get(0)
    return frame.select(*columns).where((first != "") & ~first.startswith("#"))


def _daft_failed(source: Source, exc: BaseException) -> DataError:
    error = DataError if source.local else RemoteError
    return error(f"{source.name}: could not be read: {daft_reason(exc)}")


def first_fields(source: Source, io_config) -> list[str]:
    """The fields of the first line that is neither blank nor a comment ([] when there is none)."""
    try:
        rows = _lines(source, io_config).limit(1).to_pydict()["f"]
    except BaseException as exc:
        if not is_daft_failure(exc):
            raise
        raise _daft_failed(source, exc) from None
    return list(rows[0]) if rows else []


def parse(source: Source, layout: Layout, io_config, header: list[str] | None = None) -> daft.DataFrame:
    """The lines of ``source`` as a frame of the named fields of ``layout``, held in memory; any line that does
    not fit is a :class:`DataError` naming it. ``header``: the fields of the first line, which is skipped (once).
    """
    f = col("f")
    columns = [f.length().alias("_n")]
    columns += [f.get(i).try_cast(_DTYPES[k]).alias(n) for i, (k, n) in enumerate(zip(layout.kinds, layout.names)) if n]
    if header is not None:
        columns.append((f == lit(header)).alias("_header"))
    if not source.local:
        columns.append(col("_odd"))
    try:
        parsed = persist(_lines(source, io_config).select(*columns))
        n = len(layout.kinds)
        ok = col("_n") >= n if layout.more else col("_n") == n
        for kind, name in zip(layout.kinds, layout.names):
            if name:
                ok = ok & col(name).not_null() & (~col(name).is_nan() if kind == "float" else lit(True))
        if header is not None:
            ok = ok | col("_header")
        if not source.local:
            ok = ok & ~col("_odd")
        bad = parsed.where(~ok).count_rows()
        headers = parsed.where(col("_header")).count_rows() if header is not None else 0
    except BaseException as exc:
        if not is_daft_failure(exc) or isinstance(exc, DataError):
            raise
        raise _daft_failed(source, exc) from None
    if bad or headers > 1:
        raise _first_bad_line(source, layout, header, io_config)
    if header is not None:
        parsed = parsed.where(~col("_header"))
    return parsed.exclude(*[c for c in ("_n", "_header", "_odd") if c in parsed.column_names])


def _first_bad_line(source: Source, layout: Layout, header: list[str] | None, io_config) -> DataError:
    """The error naming the first line of ``source`` that :func:`parse` refused, found by reading it in Python."""
    seen_header = header is None
    for number, line in iter_lines(source.path, io_config):
        text = line if source.local else line.removeprefix(BOM)
        fields = split_fields(text)
        if "\x00" in text or BOM in text:
            problem = "a NUL byte or a byte-order mark (U+FEFF) inside the line"
        elif not fields or fields[0].startswith("#"):
            continue
        elif fields == header:
            if not seen_header:
                seen_header = True
                continue
            problem = "the header line again (a header is the first line only)"
        else:
            problem = field_problem(fields, layout)
        if problem is not None:
            return DataError(f"{source.name}:{number}: {problem}: {line[:120]!r}. Expected the {layout.fmt} format.")
    return DataError(f"{source.name}: could not be read as the {layout.fmt} format")
