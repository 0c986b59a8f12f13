"""Where the project keeps what it downloads or computes for a user: one cache home, and one scratch place for
the indexes a search builds and removes."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator

__all__ = ["cache_home", "scratch_directory"]

SCRATCH = "DAFT_RETRIEVAL_SCRATCH"
_SCRATCH_FIX = f"free some space, or give a larger disk as --scratch-dir (${SCRATCH})"


def cache_home(*parts: str) -> str:
    """``$DAFT_RETRIEVAL_CACHE``, else ``$XDG_CACHE_HOME/daft_retrieval`` (default ``~/.cache/daft_retrieval``),
    joined with ``parts``: ``embeddings``, ``datasets``, ``models``."""
    base = os.environ.get("DAFT_RETRIEVAL_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "daft_retrieval"
    )
    return os.path.join(base, *parts)


@contextlib.contextmanager
def scratch_directory(prefix: str) -> Iterator[str]:
    """A temporary folder (removed on exit) for an index a search builds: under ``$DAFT_RETRIEVAL_SCRATCH`` when
    set, else in the system's temporary folder. Searchers open their index shards from it on every worker, so on a
    multi-node Ray cluster it must be a shared file system every node reads (CLI: ``--scratch-dir``).

    ``prefix`` (``daft-retrieval-<words>-``) starts its name; the rest names this process and host, so folders a
    killed run left behind are removed by the next one (:func:`daft_retrieval.outputs.remove_stale_temps`). A
    full disk while writing in it is an :class:`~daft_retrieval.errors.OutputError` naming the folder.

    >>> with scratch_directory("daft-retrieval-index-") as tmp:  # doctest: +SKIP
    ...     index = build_dense_index(corpus, os.path.join(tmp, "index"), config)
    """
    from daft_retrieval.errors import OutputError
    from daft_retrieval.outputs import full_disk_error, make_folder, output_error, remove_stale_temps, temp_name

    base = os.environ.get(SCRATCH) or tempfile.gettempdir()
    path = os.path.join(base, temp_name(prefix))
    make_folder(base, path)
    remove_stale_temps(base)
    try:
        os.mkdir(path, 0o700)
    except OSError as exc:
        raise output_error(exc, path, doing="make this scratch folder") from exc
    try:
        yield path
    except BaseException as exc:
        full = full_disk_error(base, path, exc, fix=_SCRATCH_FIX)
        if full is None and isinstance(exc, OutputError) and str(exc).startswith(path) and "no space" in str(exc):
            full = OutputError(f"{exc} (it is a search's scratch folder: {_SCRATCH_FIX})")  # an index in it
        if full is not None:
            raise full from exc
        raise
    finally:
        shutil.rmtree(path, ignore_errors=True)
