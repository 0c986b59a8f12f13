"""Write an index directory aside and rename it into place, so readers never see half an index."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import daft

from daft_retrieval.errors import DataError

__all__ = ["atomic_directory", "read_index_json", "write_shards"]


@contextmanager
def atomic_directory(path: str) -> Iterator[str]:
    """Yield a temporary folder beside ``path``; on success it replaces ``path``, on error it is removed.

    >>> with atomic_directory("data/index/demo") as tmp:  # doctest: +SKIP
    ...     write_files(tmp)
    """
    parent = os.path.dirname(os.path.abspath(path)) or "."
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-index-", dir=parent)
    try:
        yield tmp
        if os.path.exists(path):
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_shards(frame: daft.DataFrame, folder: str, meta: dict, *, index_file: str = "index.json") -> tuple[str, ...]:
    """Write ``frame`` as Parquet shards under ``folder/shards`` (one per file Daft writes) and ``meta`` plus the
    sorted shard list as ``folder/index_file``; returns the shard paths relative to ``folder``."""
    frame.write_parquet(os.path.join(folder, "shards"))
    shards = tuple(sorted(os.path.join("shards", f) for f in os.listdir(os.path.join(folder, "shards"))))
    with open(os.path.join(folder, index_file), "w") as fh:
        json.dump({**meta, "shards": list(shards)}, fh, indent=1)
    return shards


def read_index_json(path: str, kind: str, builder: str, *, index_file: str = "index.json") -> dict:
    """The ``index_file`` of the index directory ``path``, or a :class:`DataError` naming how to build one."""
    meta_path = os.path.join(path, index_file)
    if not os.path.exists(meta_path):
        raise DataError(f"{path}: not a {kind} (no {index_file}); build one with {builder}")
    with open(meta_path) as fh:
        meta = json.load(fh)
    meta["shards"] = tuple(meta.get("shards", ()))
    return meta
