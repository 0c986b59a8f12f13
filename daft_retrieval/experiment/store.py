"""Saved runs: each system's run on each dataset as a TREC file with its provenance, keyed by content.

The key is the spec's content key (:func:`~daft_retrieval.experiment.spec.spec_key`: every field that changes a
number, and the keys of the runs it reads), the dataset's content fingerprint and the package version, never a
name: a run is reused only when the same spec ran on the same data with the same code. ``fresh`` ignores what is
saved (and saves anew). A file that cannot be read back (cut, edited) is computed again, with a warning.

Files: ``<folder>/<dataset fingerprint>/<key>.trec``; the ``#`` lines at their top say what made them
(:func:`daft_retrieval.load.trec.read_provenance`).

    >>> store = RunStore("~/.cache/daft_retrieval/runs")  # doctest: +SKIP
    >>> store.load(key, fingerprint)  # None when not saved  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Mapping
from typing import Any

import daft

from daft_retrieval.errors import DataError, DataWarning

__all__ = ["RunStore"]


def _version() -> str:
    from daft_retrieval import __version__

    return __version__


class RunStore:
    """The saved runs under ``folder`` (made on the first save)."""

    def __init__(self, folder: str, *, fresh: bool = False) -> None:
        self.folder = os.path.abspath(os.path.expanduser(str(folder)))
        self.fresh = fresh

    def __repr__(self) -> str:
        return f"RunStore({self.folder!r}{', fresh' if self.fresh else ''})"

    def key(self, spec_key: str, fingerprint: str) -> str:
        """The file key of a spec's run on a dataset, under this package version."""
        body = f"{spec_key} {fingerprint} daft_retrieval {_version()}"
        return hashlib.sha256(body.encode()).hexdigest()[:20]

    def path(self, spec_key: str, fingerprint: str) -> str:
        return os.path.join(self.folder, fingerprint, f"{self.key(spec_key, fingerprint)}.trec")

    def load(self, spec_key: str, fingerprint: str) -> daft.DataFrame | None:
        """The saved run (None: not saved, ``fresh``, or unreadable: then a :class:`DataWarning`)."""
        path = self.path(spec_key, fingerprint)
        if self.fresh or not os.path.isfile(path):
            return None
        from daft_retrieval.load.trec import read_provenance, read_run

        try:
            if read_provenance(path).get("key") != self.key(spec_key, fingerprint):
                raise DataError("its provenance does not name this key")
            return read_run(path)
        except DataError as exc:
            warnings.warn(f"{path}: saved run not used ({exc}); computing it again", DataWarning, stacklevel=2)
            return None

    def save(self, run: daft.DataFrame, spec_key: str, fingerprint: str, provenance: Mapping[str, Any]) -> str:
        """Write ``run`` (atomically) with ``provenance`` (and its key); returns the path."""
        from daft_retrieval.load.trec import write_run
        from daft_retrieval.outputs import make_folder

        path = self.path(spec_key, fingerprint)
        make_folder(os.path.dirname(path), path)
        head = {"key": self.key(spec_key, fingerprint), "package": f"daft_retrieval {_version()}", **provenance}
        write_run(run, path, tag="daft_retrieval", provenance=head)
        return path
