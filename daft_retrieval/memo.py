"""What a worker process loads once and shares: models and index shards (thread-safe, one store per process).

Daft makes several instances of a class per process (one per call site and thread); each asks here, so a model
or a shard is read once. An entry tied to files is dropped once one of them is gone (the temporary index of a
finished search), so a long IPython session does not keep every index it ever searched in memory.

    >>> load_once(("answer",), lambda: 42)
    42
    >>> load_once(("answer",), lambda: 0)  # built once: the first value stays
    42
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["forget", "load_once", "loaded"]

T = TypeVar("T")

_ENTRIES: dict[tuple, tuple[tuple[str, ...], object]] = {}
_LOCK = threading.RLock()


def load_once(key: tuple, build: Callable[[], T], *, files: Sequence[str] = ()) -> T:
    """``build()``, called once per process for ``key`` and then shared. ``files``: what the value was read from;
    once one of them is gone the entry is dropped (put what tells versions apart, such as an mtime, in ``key``)."""
    with _LOCK:
        gone = [k for k, (paths, _) in _ENTRIES.items() if paths and not all(os.path.exists(p) for p in paths)]
        for k in gone:
            del _ENTRIES[k]
        if key not in _ENTRIES:
            _ENTRIES[key] = (tuple(files), build())
        return _ENTRIES[key][1]  # type: ignore[return-value]


def loaded(kind: str) -> list[tuple]:
    """The keys held for ``kind`` (the first element of a key), e.g. ``loaded("dense")`` (tests count them)."""
    with _LOCK:
        return [k for k in _ENTRIES if k and k[0] == kind]


def forget(kind: str) -> None:
    """Drop every entry of ``kind``: the next use loads again."""
    with _LOCK:
        for k in loaded(kind):
            del _ENTRIES[k]
