"""Find the line at fault in a text file: the slow, exact path taken only after a fast Daft read failed.

Local files may be gzip-compressed (``.gz``). Text must be UTF-8: :func:`check_utf8` finds the first line that is
not, because Daft 0.7.26's ``read_text`` sometimes returns no rows for such a file instead of failing.
"""

from __future__ import annotations

import codecs
import gzip
import json
import os
from collections.abc import Callable, Iterator
from typing import BinaryIO

import daft

from daft_retrieval.errors import DataError

__all__ = ["BOM", "check_file", "check_jsonl", "check_utf8", "first_line", "iter_lines"]

BOM = "\ufeff"  # a UTF-8 byte-order mark, as some editors write at the start of a file


def _is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


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
    is not UTF-8 is a :class:`DataError` naming it."""
    if _is_local(path):
        with _open_local(path) as fh:
            for number, raw in enumerate(fh, start=1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise _not_utf8(path, number, raw, exc) from None
                yield number, line.rstrip("\n")
        return
    lines = daft.read_text(path, skip_blank_lines=False, io_config=io_config).to_pydict()["text"]
    yield from enumerate(lines, start=1)


def check_file(path: str) -> None:
    """Raise a :class:`DataError` when a local ``path`` is missing or a directory (remote paths: no check)."""
    if not _is_local(path):
        return
    local = path.removeprefix("file://")
    if os.path.isdir(local):
        raise DataError(f"{path}: is a directory; give the file itself")
    if not os.path.exists(local):
        raise DataError(f"{path}: no such file")


def check_utf8(path: str) -> None:
    """Raise a :class:`DataError` naming the first line of a local file that is not UTF-8 (remote files: no check).

    The whole file goes through Python's C decoder in 8 MB blocks (about a second per GB); only a bad file is
    read again, line by line, to name the line.
    """
    if not _is_local(path):
        return
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with _open_local(path) as fh:
            while block := fh.read(1 << 23):
                decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        for _ in iter_lines(path):  # raises, naming the line
            pass
        raise DataError(f"{path}: ends inside a UTF-8 character; save the file as UTF-8") from None


def first_line(path: str, io_config: daft.io.IOConfig | None = None) -> str:
    """The first non-blank line of a local or remote text file ("" for an empty file), without a leading BOM."""
    if _is_local(path):
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


def _json_problem(line: str) -> str | None:
    if not line.strip():
        return None
    if line.startswith(BOM):
        return "a byte-order mark (BOM) starts the file, which JSON does not allow (save it as UTF-8 without BOM)"
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        return f"invalid JSON ({exc.msg} at column {exc.colno})"
    if not isinstance(value, dict):
        return f"expected a JSON object, found {type(value).__name__}"
    return None


def check_jsonl(path: str, io_config: daft.io.IOConfig | None = None, cause: Exception | None = None) -> None:
    """Raise a :class:`DataError` naming the first malformed line of a JSONL file (called after Daft failed)."""
    if first_line(path, io_config) == "":
        raise DataError(f"{path}: the file is empty (no JSON lines). Give one JSON object per line.") from cause
    bad = first_bad_line(path, _json_problem, io_config)
    if bad is None:
        raise DataError(f"{path}: could not be read as JSON lines: {cause}") from cause
    number, line, problem = bad
    raise DataError(
        f"{path}:{number}: {problem}: {line[:120]!r}. Each line must be one JSON object; fix or remove the line."
    ) from cause
