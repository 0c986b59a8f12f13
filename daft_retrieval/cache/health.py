"""Keeping the embedding cache whole: find the files a reader must not trust, move them aside, report them.

A bad part (see :mod:`daft_retrieval.cache.parts`), or an entry's ``meta.json``/``schema.json`` that is not
JSON, is moved to ``<root>/quarantine/<fingerprint>/<name>`` beside a ``<name>.why`` saying why; nothing is
deleted. A moved part's rows count as missing, so the next encoding encodes its texts again and commits them as
a new part; a moved ``meta.json`` or ``schema.json`` is written again at the next commit.
:meth:`~daft_retrieval.cache.store.EmbeddingCache.lookup` does this as it reads (one DataWarning per file);
:func:`verify` checks every byte of every entry and, with ``repair``, moves what it finds.

    >>> report = verify(EmbeddingCache("~/.cache/daft_retrieval/embeddings"), repair=False)  # doctest: +SKIP
    >>> [p.line() for p in report.problems]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from daft_retrieval.cache.parts import Inspection, Shape, inspect_part, mismatch, one_line
from daft_retrieval.errors import CacheError

if TYPE_CHECKING:
    from daft_retrieval.cache.store import EmbeddingCache

__all__ = ["QUARANTINE", "SCHEMA", "Problem", "VerifyReport", "check_entry", "quarantine", "verify"]

QUARANTINE, SCHEMA, META = "quarantine", "schema.json", "meta.json"


@dataclass(frozen=True)
class Problem:
    """A file of entry ``fingerprint`` not to trust: ``path`` (as the user gave the cache: path or URL) and why.

    ``movable`` is False for a file that could not be read at all (it may be a passing fault: left in place)."""

    fingerprint: str
    path: str
    why: str
    movable: bool = True
    moved_to: str | None = None
    source: str = field(default="", repr=False)  # the path on the cache's file system

    def line(self) -> str:
        """``<path> <why>[: moved aside to <target>]``."""
        return f"{self.path} {self.why}" + (f": moved aside to {self.moved_to}" if self.moved_to else "")


class EntryCheck(NamedTuple):
    """An entry's parts that read whole (path, inspection), and its problems."""

    good: list[tuple[str, Inspection]]
    problems: list[Problem]


class VerifyReport(NamedTuple):
    """What :func:`verify` checked (entries, parts) and found."""

    entries: int
    parts: int
    problems: list[Problem]


def read_json(cache: EmbeddingCache, path: str) -> dict | None:
    """The JSON object at ``path``; None when there is none; ValueError when it is not a JSON object."""
    try:
        with cache.fs.open_input_stream(path) as fh:
            data = fh.read()
    except (FileNotFoundError, NotADirectoryError):
        return None
    value = json.loads(data)  # ValueError (JSONDecodeError, UnicodeDecodeError) when damaged
    if not isinstance(value, dict):
        raise ValueError(f"a JSON {type(value).__name__}, not an object")
    return value


def _expected(cache: EmbeddingCache, fp: str, found: list[tuple[str, Inspection]], meta: dict | None) -> Shape | None:
    """The shape every part of ``fp`` must have: its ``schema.json``, else (an entry from before it) the shape
    holding most rows."""
    try:
        recorded = read_json(cache, f"{cache._dir(fp)}/{SCHEMA}")
    except (ValueError, OSError):
        recorded = None  # reported as a problem by check_entry
    if recorded and isinstance(recorded.get("value_type"), str):
        return Shape(recorded["value_type"], recorded.get("dim"))
    rows: Counter = Counter()
    for _, inspection in found:
        if inspection.shape is not None:
            rows[inspection.shape] += inspection.rows
    if not rows:
        return None
    shape = rows.most_common(1)[0][0]
    return Shape(shape.value_type, shape.dim if (meta or {}).get("kind") == "dense" else None)


def check_entry(cache: EmbeddingCache, fp: str, *, deep: bool, memo: dict | None = None) -> EntryCheck:
    """Check entry ``fp``: its JSON files and every part (``deep``: every byte). ``memo`` (path -> (size, mtime,
    inspection)) skips parts already checked by this process."""
    problems: list[Problem] = []
    meta = None
    for name in (META, SCHEMA):
        path = f"{cache._dir(fp)}/{name}"
        try:
            value = read_json(cache, path)
            meta = value if name == META else meta
        except ValueError as exc:
            problems.append(Problem(fp, cache._uri(path), f"is not a JSON object ({one_line(exc)})", source=path))
        except OSError as exc:
            problems.append(
                Problem(fp, cache._uri(path), f"cannot be read ({one_line(exc)})", movable=False, source=path)
            )
    found: list[tuple[str, Inspection]] = []
    for info in cache._part_infos(fp):
        key = (info.size, info.mtime_ns)
        if memo is not None and info.path in memo and memo[info.path][0] == key:
            inspection = memo[info.path][1]
        else:
            try:
                inspection = inspect_part(cache.fs, info.path, info.size, deep=deep)
            except FileNotFoundError:
                continue  # moved aside or pruned by another process meanwhile
            except OSError as exc:
                why = f"cannot be read ({one_line(exc)}); check its permissions"
                problems.append(Problem(fp, cache._uri(info.path), why, movable=False, source=info.path))
                continue
            if memo is not None:
                memo[info.path] = (key, inspection)
        if inspection.problem is not None:
            problems.append(Problem(fp, cache._uri(info.path), inspection.problem, source=info.path))
        else:
            found.append((info.path, inspection))
    expected = _expected(cache, fp, found, meta)
    good = []
    for path, inspection in found:
        why = mismatch(inspection.shape, expected) if expected is not None else None
        if why is None:
            good.append((path, inspection))
        else:
            problems.append(Problem(fp, cache._uri(path), why, source=path))
    return EntryCheck(good, problems)


def quarantine(cache: EmbeddingCache, problem: Problem) -> Problem:
    """Move ``problem``'s file to ``<root>/quarantine/<fingerprint>/`` (with a ``.why`` note); returns the problem
    with ``moved_to`` set. Raises OSError when the cache cannot be written (FileNotFoundError: already gone)."""
    name = problem.source.rsplit("/", 1)[-1]
    folder = f"{cache.base}/{QUARANTINE}/{problem.fingerprint}"
    import pyarrow.fs as pafs

    target = f"{folder}/{name}"
    if cache.fs.get_file_info(target).type != pafs.FileType.NotFound:  # the same name moved aside before
        target = f"{folder}/{uuid.uuid4().hex[:8]}-{name}"
    cache.fs.create_dir(folder, recursive=True)
    cache.fs.move(problem.source, target)
    try:
        with cache.fs.open_output_stream(f"{target}.why") as fh:
            fh.write(f"{problem.path} {problem.why}\n".encode())
    except OSError:
        pass  # the note is a courtesy: the file itself is safe
    return Problem(problem.fingerprint, problem.path, problem.why, True, cache._uri(target), problem.source)


def verify(cache: EmbeddingCache, *, repair: bool = False) -> VerifyReport:
    """Check every byte of every entry of ``cache``; with ``repair``, move each bad file aside.

    Raises :class:`~daft_retrieval.errors.CacheError` naming the file when ``repair`` cannot write the cache.

    >>> verify(EmbeddingCache(tmp), repair=True).problems  # doctest: +SKIP
    []
    """
    if repair and cache.read_only:
        raise CacheError(f"{cache.root}: cache verify --repair must move files and the cache is read-only")
    entries = cache.fingerprints()
    parts, problems = 0, []
    for fp in entries:
        check = check_entry(cache, fp, deep=True)
        parts += len(check.good) + sum(1 for p in check.problems if p.source.endswith(".parquet"))
        for problem in check.problems:
            if repair and problem.movable:
                try:
                    problem = quarantine(cache, problem)
                except FileNotFoundError:
                    continue  # moved aside by another process meanwhile
                except OSError as exc:
                    raise CacheError(
                        f"{problem.path}: cannot move it aside ({one_line(exc)}); make the cache writable, or run "
                        "'cache verify' without --repair to only list the problems"
                    ) from None
            problems.append(problem)
    return VerifyReport(len(entries), parts, problems)
