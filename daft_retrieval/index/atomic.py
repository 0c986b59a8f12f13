"""Write an index directory aside and rename it into place, so readers never see half an index, and never
replace a folder this project did not write.

Every index folder written here holds a marker file (``.daft-retrieval-index``, naming its kind). An existing
folder is replaced only when it carries that marker or is empty; any other folder is refused
(:class:`OutputError`) and left as it is. The new index is built in a temporary folder beside it and swapped in
(one atomic exchange on Linux, else two renames); the old one is removed only once the new one is in place.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import ClassVar

import daft

from daft_retrieval.errors import DataError, OutputError
from daft_retrieval.outputs import (
    check_output_folder,
    full_disk_error,
    make_folder,
    output_error,
    remove_stale_temps,
    temp_name,
)
from daft_retrieval.schema import INDEX_FILE

__all__ = ["MARKER", "ShardedIndex", "atomic_directory", "check_index_dir", "read_index_json", "write_shards"]

MARKER = ".daft-retrieval-index"


def _is_ours(path: str) -> bool:
    """Whether the folder ``path`` may be replaced: it is empty or carries our marker."""
    return not os.listdir(path) or os.path.isfile(os.path.join(path, MARKER))


def check_index_dir(path: str) -> None:
    """Refuse, before any work, an index destination that is not ours to replace or cannot be written: an
    existing file, a non-empty folder without the marker, a folder that cannot be made or written.

    >>> check_index_dir("data/index/scifact-minilm")  # doctest: +SKIP
    """
    real = os.path.realpath(path)
    shown = path if os.path.abspath(path) == real else f"{path} (-> {real})"
    here = os.path.realpath(os.getcwd())
    if here == real or here.startswith(real.rstrip(os.sep) + os.sep):
        raise OutputError(f"{shown}: is the current folder or holds it; give a new or empty folder for the index")
    if os.path.lexists(real) and not os.path.isdir(real):
        raise OutputError(f"{shown}: is not a folder; give a new or empty folder for the index")
    if os.path.isdir(real):
        try:
            ours = _is_ours(real)
        except OSError as exc:
            raise output_error(exc, shown, doing="read it") from exc
        if not ours:
            raise OutputError(
                f"{shown}: is a folder that is not an index daft-retrieval wrote (no {MARKER} marker in it), "
                "so it is left untouched; give a new or empty folder for the index (an index from an older "
                "daft-retrieval: remove it yourself)"
            )
    check_output_folder(os.path.dirname(real), shown)


def _exchange(a: str, b: str) -> bool:
    """Swap two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), b)


def _swap_in(tmp: str, real: str, shown: str) -> None:
    """Put the finished folder ``tmp`` at ``real``; an old index there goes only once the new one is in."""
    if not os.path.isdir(real) or not os.listdir(real):
        os.replace(tmp, real)  # a new path, or onto an empty folder
        return
    if not _is_ours(real):  # appeared while building
        raise OutputError(
            f"{shown}: a folder without the {MARKER} marker appeared while the index was built; "
            "it is left untouched, and the new index is not written"
        )
    with contextlib.suppress(OSError):
        os.chmod(tmp, stat.S_IMODE(os.stat(real).st_mode))
    if _exchange(tmp, real):
        shutil.rmtree(tmp, ignore_errors=True)  # now the old index
        return
    aside = os.path.join(os.path.dirname(real), temp_name())
    os.rename(real, aside)
    try:
        os.rename(tmp, real)
    except BaseException:
        os.rename(aside, real)
        raise
    shutil.rmtree(aside, ignore_errors=True)


@contextlib.contextmanager
def atomic_directory(path: str, kind: str = "index") -> Iterator[str]:
    """Yield an empty temporary folder beside ``path``; on success it replaces ``path`` (with a marker naming
    ``kind``), on error it is removed and ``path`` is left as it was. A symbolic link is followed: its target
    folder is replaced, the link stays.

    >>> with atomic_directory("data/index/demo", "vector index") as tmp:  # doctest: +SKIP
    ...     write_files(tmp)
    """
    check_index_dir(path)
    real = os.path.realpath(path)
    shown = path if os.path.abspath(path) == real else f"{path} (-> {real})"
    parent = os.path.dirname(real)
    make_folder(parent, shown)
    remove_stale_temps(parent)
    tmp = os.path.join(parent, temp_name())
    try:
        os.mkdir(tmp)
    except OSError as exc:
        raise output_error(exc, shown) from exc
    try:
        yield tmp
        with open(os.path.join(tmp, MARKER), "w") as fh:
            json.dump({"kind": kind, "written_by": "daft-retrieval"}, fh)
        _swap_in(tmp, real, shown)
    except BaseException as exc:
        full = full_disk_error(parent, shown, exc)
        shutil.rmtree(tmp, ignore_errors=True)
        if full is not None:
            raise full from exc
        if isinstance(exc, OSError):
            raise output_error(exc, shown) from exc
        raise


def write_shards(frame: daft.DataFrame, folder: str, meta: dict, *, index_file: str = INDEX_FILE) -> tuple[str, ...]:
    """Write ``frame`` as Parquet shards under ``folder/shards`` (one per file Daft writes) and ``meta`` plus the
    sorted shard list as ``folder/index_file``; returns the shard paths relative to ``folder``."""
    frame.write_parquet(os.path.join(folder, "shards"))
    shards = tuple(sorted(os.path.join("shards", f) for f in os.listdir(os.path.join(folder, "shards"))))
    with open(os.path.join(folder, index_file), "w") as fh:
        json.dump({**meta, "shards": list(shards)}, fh, indent=1)
    return shards


def read_index_json(path: str, kind: str, builder: str, *, index_file: str = INDEX_FILE) -> dict:
    """The ``index_file`` of the index directory ``path``, or a :class:`DataError` naming how to build one."""
    meta_path = os.path.join(path, index_file)
    if not os.path.exists(meta_path):
        raise DataError(f"{path}: not a {kind} (no {index_file}); build one with {builder}")
    with open(meta_path) as fh:
        meta = json.load(fh)
    meta["shards"] = tuple(meta.get("shards", ()))
    return meta


@dataclass(frozen=True, kw_only=True)
class ShardedIndex:
    """What the ``index.json`` of a sharded index folder records: its vector size, documents, shards (relative to
    ``path``) and how its vectors were made (``encoder``: the model descriptor's fields). Each kind adds its own
    fields and names itself (``kind``) and its builder in the message for a folder that is not one."""

    path: str
    dim: int
    count: int
    shards: tuple[str, ...]
    encoder: dict = field(default_factory=dict)

    kind: ClassVar[str] = "index"
    builder: ClassVar[str] = "a build function"
    marker: ClassVar[str | None] = None  # a key only this kind's index.json has (None: any index.json)
    not_one: ClassVar[str] = ""  # what a folder without the marker is

    @classmethod
    def open(cls, path: str):
        """The index recorded at ``path`` (only metadata: the shards load on the workers); a folder of another
        kind (no ``marker`` key) is a :class:`DataError`."""
        meta = read_index_json(path, cls.kind, cls.builder)
        if cls.marker is not None and cls.marker not in meta:
            raise DataError(f"{path}: {cls.not_one}; build one with {cls.builder}")
        names = {f.name for f in fields(cls)} - {"path"}
        return cls(path=path, **{k: v for k, v in meta.items() if k in names})
