"""The embedding cache: a directory (local path or object-store URL) of Parquet files, one folder per fingerprint.

Layout: ``<root>/<fingerprint>/meta.json`` (the settings the fingerprint hashes) and ``part-*.parquet`` files of
``_h1, _h2, value`` rows (the text's two hashes and its embedding). Lookup is a Daft join on the hashes; misses
are an anti-join. Each commit writes one new Parquet file under a hidden temporary name and renames it into place
(on object stores a single PUT), so a reader sees whole files only: a run killed mid-write leaves everything
committed before it readable, and the next run re-encodes only what was lost. Concurrent writers add distinct
files; rows they both wrote collapse to one on read (same key, same model: the same vector).

    >>> cache = EmbeddingCache("~/.cache/daft_retrieval/embeddings")  # doctest: +SKIP
    >>> cache.stats()["entries"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import time
import uuid

import daft
import pyarrow as pa
import pyarrow.parquet as pq
from daft import col

from daft_retrieval.cache.fingerprint import HASH_1, HASH_2
from daft_retrieval.errors import DataError
from daft_retrieval.paths import cache_home

__all__ = ["VALUE", "EmbeddingCache", "default_cache_dir"]

VALUE = "value"
_META, _LAST = "meta.json", "last_run.json"


def default_cache_dir() -> str:
    """``embeddings`` under the cache home (:func:`daft_retrieval.paths.cache_home`)."""
    return cache_home("embeddings")


class EmbeddingCache:
    """A cache directory; counts the hits and misses of this process's lookups (see :meth:`stats`).

    Encoded texts are committed every ``commit_rows`` (what a killed run can lose at most).
    """

    def __init__(
        self, root: str | os.PathLike, io_config: daft.io.IOConfig | None = None, *, commit_rows: int = 4096
    ) -> None:
        import pyarrow.fs as pafs

        if commit_rows < 1:
            raise DataError(f"commit_rows must be >= 1, not {commit_rows}")
        self.commit_rows = commit_rows
        self.root = os.fspath(root)
        self.io_config = io_config
        if self.root.startswith("s3://") and io_config is not None and io_config.s3.endpoint_url:
            s3 = io_config.s3  # an S3-compatible endpoint: the same settings for our writes as for Daft's reads
            self.fs = pafs.S3FileSystem(
                endpoint_override=s3.endpoint_url,
                access_key=s3.key_id,
                secret_key=s3.access_key,
                region=s3.region_name or "us-east-1",
                anonymous=bool(s3.anonymous),
            )
            self.base = self.root[len("s3://") :].rstrip("/")
        elif "://" in self.root:
            self.fs, self.base = pafs.FileSystem.from_uri(self.root)
        else:
            self.root = os.path.abspath(os.path.expanduser(self.root))
            self.fs, self.base = pafs.LocalFileSystem(), self.root
            if os.path.exists(self.root) and not os.path.isdir(self.root):
                raise DataError(f"{self.root}: the embedding cache must be a folder, and this is a file")
        self.fs.create_dir(self.base, recursive=True)
        self.counts: dict[str, dict[str, int]] = {}

    def __repr__(self) -> str:
        return f"EmbeddingCache({self.root!r})"

    # -- layout ------------------------------------------------------------------------------------------
    def _dir(self, fp: str) -> str:
        return f"{self.base}/{fp}"

    def _parts(self, fp: str) -> list[str]:
        import pyarrow.fs as pafs

        infos = self.fs.get_file_info(pafs.FileSelector(self._dir(fp), allow_not_found=True))
        return sorted(i.path for i in infos if i.base_name.startswith("part-") and i.base_name.endswith(".parquet"))

    def _uri(self, path: str) -> str:
        return path if "://" not in self.root else f"{self.root.split('://')[0]}://{path}"

    def fingerprints(self) -> list[str]:
        """Fingerprints with a ``meta.json`` in the cache."""
        import pyarrow.fs as pafs

        infos = self.fs.get_file_info(pafs.FileSelector(self.base, allow_not_found=True))
        return sorted(i.base_name for i in infos if i.type == pafs.FileType.Directory and self._has_meta(i.path))

    def _has_meta(self, path: str) -> bool:
        import pyarrow.fs as pafs

        return self.fs.get_file_info(f"{path}/{_META}").type == pafs.FileType.File

    def meta(self, fp: str) -> dict:
        with self.fs.open_input_stream(f"{self._dir(fp)}/{_META}") as fh:
            return json.loads(fh.read())

    # -- reading -----------------------------------------------------------------------------------------
    def lookup(self, fp: str) -> daft.DataFrame | None:
        """``_h1, _h2, value`` of every committed row of ``fp`` (one per key), or None when it has none."""
        parts = self._parts(fp)
        if not parts:
            return None
        frame = daft.read_parquet([self._uri(p) for p in parts], io_config=self.io_config)
        return frame.groupby(HASH_1, HASH_2).agg(col(VALUE).any_value())

    # -- writing -----------------------------------------------------------------------------------------
    def _write(self, path: str, data: bytes) -> None:
        """Write ``data`` at ``path`` atomically: a hidden temporary file renamed into place (locally)."""
        if "://" in self.root:
            with self.fs.open_output_stream(path) as fh:  # one PUT: atomic on object stores
                fh.write(data)
            return
        folder, name = os.path.split(path)
        tmp = os.path.join(folder, f".tmp-{uuid.uuid4().hex}-{name}")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def append(self, fp: str, meta: dict, table: pa.Table) -> int:
        """Commit ``_h1, _h2, value`` rows of ``fp`` as one new Parquet file; returns the rows written."""
        if table.num_rows == 0:
            return 0
        missing = {HASH_1, HASH_2, VALUE} - set(table.column_names)
        if missing:
            raise DataError(f"cache rows need columns _h1, _h2, value; missing {sorted(missing)}")
        self.fs.create_dir(self._dir(fp), recursive=True)
        if not self._has_meta(self._dir(fp)):
            self._write(f"{self._dir(fp)}/{_META}", json.dumps(meta, indent=1, sort_keys=True).encode())
        sink = pa.BufferOutputStream()
        pq.write_table(table.select([HASH_1, HASH_2, VALUE]), sink)
        name = f"part-{time.time_ns()}-{uuid.uuid4().hex[:12]}.parquet"
        self._write(f"{self._dir(fp)}/{name}", sink.getvalue().to_pybytes())
        return table.num_rows

    # -- bookkeeping -------------------------------------------------------------------------------------
    def count(self, fp: str, *, hits: int, misses: int) -> None:
        """Add one lookup's hits and misses to this run's counts, and save them as the last run's."""
        entry = self.counts.setdefault(fp, {"hits": 0, "misses": 0})
        entry["hits"] += hits
        entry["misses"] += misses
        self._write(f"{self.base}/{_LAST}", json.dumps({"time": time.time(), "counts": self.counts}).encode())

    def last_run(self) -> dict:
        """Hits and misses per fingerprint of the last run that used this cache (empty if none)."""
        try:
            with self.fs.open_input_stream(f"{self.base}/{_LAST}") as fh:
                return json.loads(fh.read())
        except (FileNotFoundError, OSError):
            return {}

    def stats(self) -> dict:
        """Per fingerprint: its settings, rows (counting duplicates), files and bytes; plus the last run's counts."""
        import pyarrow.fs as pafs

        entries = []
        for fp in self.fingerprints():
            parts = self._parts(fp)
            rows = sum(pq.ParquetFile(self.fs.open_input_file(p)).metadata.num_rows for p in parts)
            size = sum(i.size for i in self.fs.get_file_info(parts)) if parts else 0
            infos = self.fs.get_file_info(pafs.FileSelector(self._dir(fp)))
            stale = sum(1 for i in infos if i.base_name.startswith(".tmp-"))
            entries.append(
                {
                    "fingerprint": fp,
                    **self.meta(fp),
                    "rows": rows,
                    "files": len(parts),
                    "bytes": size,
                    "stale_temporary_files": stale,
                }
            )
        return {"root": self.root, "entries": entries, "last_run": self.last_run()}

    def prune(self, *, model: str | None = None, fingerprint: str | None = None) -> list[str]:
        """Delete the entries of ``model`` (as given when encoding) or one ``fingerprint``; returns those removed."""
        if model is None and fingerprint is None:
            raise DataError("cache prune needs --model M or --fingerprint F")
        removed = []
        for fp in self.fingerprints():
            if fp == fingerprint or (model is not None and self.meta(fp).get("model") == model):
                self.fs.delete_dir(self._dir(fp))
                removed.append(fp)
        return removed
