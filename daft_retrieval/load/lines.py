"""Find the line at fault in a text file: the slow, exact path taken only after a fast Daft read failed."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import daft

from daft_retrieval.errors import DataError

__all__ = ["check_jsonl", "first_line", "iter_lines"]


def iter_lines(path: str, io_config: daft.io.IOConfig | None = None) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` (1-based, blank lines included) of a local or remote text file."""
    if "://" not in path or path.startswith("file://"):
        with open(path.removeprefix("file://"), encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                yield number, line.rstrip("\n")
        return
    lines = daft.read_text(path, skip_blank_lines=False, io_config=io_config).to_pydict()["text"]
    yield from enumerate(lines, start=1)


def first_line(path: str, io_config: daft.io.IOConfig | None = None) -> str:
    """The first non-blank line of a local or remote text file ("" for an empty file)."""
    if "://" not in path or path.startswith("file://"):
        return next((line for _, line in iter_lines(path) if line.strip()), "")
    rows = daft.read_text(path, io_config=io_config).limit(1).to_pydict()["text"]
    return rows[0] if rows else ""


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
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        return f"invalid JSON ({exc.msg} at column {exc.colno})"
    if not isinstance(value, dict):
        return f"expected a JSON object, found {type(value).__name__}"
    return None


def check_jsonl(path: str, io_config: daft.io.IOConfig | None = None, cause: Exception | None = None) -> None:
    """Raise a :class:`DataError` naming the first malformed line of a JSONL file (called after Daft failed)."""
    bad = first_bad_line(path, _json_problem, io_config)
    if bad is None:
        raise DataError(f"{path}: could not be read as JSON lines: {cause}") from cause
    number, line, problem = bad
    raise DataError(
        f"{path}:{number}: {problem}: {line[:120]!r}. Each line must be one JSON object; fix or remove the line."
    ) from cause
