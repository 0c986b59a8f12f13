"""Where the project keeps what it downloads or computes for a user: one cache home, and one scratch place for
the indexes a search builds and removes."""

from __future__ import annotations

import os
import tempfile

__all__ = ["cache_home", "scratch_directory"]

SCRATCH = "DAFT_RETRIEVAL_SCRATCH"


def cache_home(*parts: str) -> str:
    """``$DAFT_RETRIEVAL_CACHE``, else ``$XDG_CACHE_HOME/daft_retrieval`` (default ``~/.cache/daft_retrieval``),
    joined with ``parts``: ``embeddings``, ``datasets``, ``models``."""
    base = os.environ.get("DAFT_RETRIEVAL_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "daft_retrieval"
    )
    return os.path.join(base, *parts)


def scratch_directory(prefix: str) -> tempfile.TemporaryDirectory:
    """A temporary folder (removed on exit) for an index a search builds: under ``$DAFT_RETRIEVAL_SCRATCH`` when
    set, else in the system's temporary folder. Searchers open their index shards from it on every worker, so on a
    multi-node Ray cluster it must be a shared file system every node reads (CLI: ``--scratch-dir``).

    >>> with scratch_directory("daft-retrieval-index-") as tmp:  # doctest: +SKIP
    ...     index = build_dense_index(corpus, os.path.join(tmp, "index"), config)
    """
    base = os.environ.get(SCRATCH) or None
    if base is not None:
        os.makedirs(base, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=prefix, dir=base)
