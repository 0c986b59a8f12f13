"""Find the line at fault in a text file: the slow, exact path taken only after a fast Daft read failed.

Local files may be gzip-compressed (``.gz``); remote ones are read through Daft. Errors Daft raises while reading
are turned into a :class:`DataError` naming the file (never Daft's own or Rust's text): :func:`is_daft_failure`,
:func:`daft_reason`.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import re
import zlib
from collections.abc import Callable, Iterator
from typing import BinaryIO

import daft

from daft_retrieval.errors import ArchiveError, DataError
from daft_retrieval.load.scan import is_local

__all__ = [
    "BOM",
    "JsonFloat",
    "JsonInt",
    "check_file",
    "check_jsonl",
    "daft_reason",
    "first_bad_line",
    "first_line",
    "is_daft_failure",
    "iter_lines",
    "json_rows",
]

BOM = "\ufeff"  # a UTF-8 byte-order mark, as some editors write at the start of a file


def _open_local(path: str) -> BinaryIO:
    path = path.removeprefix("file://")
    return gzip.open(path, "rb") if path.lower().endswith(".gz") else open(path, "rb")


def _not_utf8(path: str, number: int, raw: bytes, exc: UnicodeDecodeError) -> DataError:
    around = raw[max(0, exc.start - 20) : exc.start + 10]
    return DataError(
        f"{path}:{number}: not UTF-8 (byte {exc.start + 1} of the line, in {around!r}). Save the file as UTF-8, "
        "e.g. iconv -f latin1 -t utf-8 FILE > FILE.utf8"
    )


def iter_lines(path: str, io_config: daft.io.IOConfig | None = None) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` (1-based, blank lines included) of a local or remote text file; a line that
    is not UTF-8 is a :class:`DataError` naming it, a broken ``.gz`` an :class:`ArchiveError`."""
    if is_local(path):
        try:
            with _open_local(path) as fh:
                for number, raw in enumerate(fh, start=1):
                    try:
                        line = raw.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        raise _not_utf8(path, number, raw, exc) from None
                    yield number, line.rstrip("\n")
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise ArchiveError(f"{path}: broken gzip data ({exc}); check it with gzip -t, or re-download it") from None
        return
    lines = daft.read_text(path, skip_blank_lines=False, io_config=io_config).to_pydict()["text"]
    yield from enumerate(lines, start=1)


def check_file(path: str) -> None:
    """Raise a :class:`DataError` when a local ``path`` is missing or a directory (remote paths: no check)."""
    if not is_local(path):
        return
    local = path.removeprefix("file://")
    if os.path.isdir(local):
        raise DataError(f"{path}: is a directory; give the file itself")
    if not os.path.exists(local):
        raise DataError(f"{path}: no such file")


def first_line(path: str, io_config: daft.io.IOConfig | None = None) -> str:
    """The first non-blank line of a local or remote text file ("" for an empty file), without a leading BOM."""
    if is_local(path):
        line = next((line for _, line in iter_lines(path) if line.strip()), "")
    else:
        rows = daft.read_text(path, io_config=io_config).limit(1).to_pydict()["text"]
        line = rows[0] if rows else ""
    return line.removeprefix(BOM)


def first_bad_line(
    path: str, problem: Callable[[str], str | None], io_config: daft.io.IOConfig | None = None
) -> tuple[int, str, str] | None:
    """Return ``(line_number, line, problem)`` for the first line where ``problem(line)`` is not None."""
    for number, line in iter_lines(path, io_config):
        found = problem(line)
        if found is not None:
            return number, line, found
    return None


def is_daft_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is an error to report as bad input: any ``Exception``, or a Rust panic (which pyo3 raises as
    a ``BaseException``), but not ``KeyboardInterrupt`` or ``SystemExit``."""
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"


def daft_reason(exc: BaseException) -> str:
    """A one-line reason for a failed Daft read, without Rust panic text or backtraces.

    >>> daft_reason(RuntimeError("thread 'x' panicked at src/lib.rs:1:2:\\nindex out of bounds"))
    'Daft could not read it (an internal error)'
    """
    text = str(exc).strip()
    first = text.splitlines()[0].strip() if text else ""
    if not first or type(exc).__name__ == "PanicException" or "panicked" in text or "RUST_BACKTRACE" in text:
        return "Daft could not read it (an internal error)"
    first = re.sub(r"^DaftError::\w+\s*", "", first)  # Daft's error kind, not the reader's business
    return first if len(first) <= 200 else first[:200] + "..."


class _NotJson(ValueError):
    """A JSON text Python reads but Daft refuses (NaN, Infinity, a number past 64 bits)."""


class JsonInt(int):
    """A JSON integer that keeps its text (``-0`` is 0 but not ``"0"``)."""

    text: str


class JsonFloat(float):
    """A JSON number with a fraction or exponent that keeps its text (``3.0``, ``1e3``)."""

    text: str


def _json_int(text: str) -> JsonInt:
    try:
        value = JsonInt(text)
    except ValueError:  # more digits than Python converts
        value = None
    if value is None or not -(2**63) <= value < 2**64:
        raise _NotJson(f"the number {text[:30]} does not fit in 64 bits (write it as a string)")
    value.text = text
    return value


def _json_float(text: str) -> JsonFloat:
    value = JsonFloat(text)
    if math.isinf(value):
        raise _NotJson(f"the number {text[:30]} is out of range (write it as a string)")
    value.text = text
    return value


def _json_constant(text: str) -> float:
    raise _NotJson(f"{text} is not JSON (write null, a number or a string)")


def _loads(line: str):
    return json.loads(line, parse_int=_json_int, parse_float=_json_float, parse_constant=_json_constant)


def _json_problem(line: str) -> str | None:
    if not line.strip():
        return "a blank line, which JSON Lines does not allow (one JSON object per line): remove it"
    if line.startswith(BOM):
        return "a byte-order mark (BOM) starts the line, which JSON does not allow (save it as UTF-8 without BOM)"
    try:
        value = _loads(line)
    except _NotJson as exc:
        return str(exc)
    except json.JSONDecodeError as exc:
        return f"invalid JSON ({exc.msg} at column {exc.colno})"
    except RecursionError:
        return "JSON nested too deep"
    if not isinstance(value, dict):
        return f"expected a JSON object, found {type(value).__name__}"
    return None


def check_jsonl(
    path: str, io_config: daft.io.IOConfig | None = None, cause: BaseException | None = None, name: str | None = None
) -> None:
    """Raise a :class:`DataError` naming the first malformed line of a JSONL file (called after Daft failed).

    ``name``: the file as the user gave it, when ``path`` is a copy of it (see :mod:`~daft_retrieval.load.scan`).
    """
    name = name or path
    cause = cause if cause is None or isinstance(cause, Exception) else None
    if first_line(path, io_config) == "":
        raise DataError(f"{name}: the file is empty (no JSON lines). Give one JSON object per line.") from cause
    bad = first_bad_line(path, _json_problem, io_config)
    if bad is None:
        raise DataError(f"{name}: could not be read as JSON lines: {daft_reason(cause)}") from cause
    number, line, problem = bad
    raise DataError(
        f"{name}:{number}: {problem}: {line[:120]!r}. Each line must be one JSON object; fix or remove the line."
    ) from cause


def json_rows(path: str, io_config: daft.io.IOConfig | None = None) -> Iterator[tuple[int, str, dict]]:
    """Yield ``(line_number, line, object)`` for each line of a JSONL file that Daft has read without error; its
    numbers are :class:`JsonInt` and :class:`JsonFloat`, which keep their text."""
    for number, line in iter_lines(path, io_config):
        if line.strip():
            value = _loads(line)
            if isinstance(value, dict):
                yield number, line, value
