"""The embedding cache: a directory (local path or object-store URL) of Parquet files, one folder per fingerprint.

Layout: ``<root>/<fingerprint>/meta.json`` (the settings the fingerprint hashes) and ``part-*.parquet`` files of
``_h1, _h2, value`` rows (the text's two hashes and its embedding), and ``schema.json`` (the values' type and
dimension every part must have). Lookup is a Daft join on the hashes; misses
are an anti-join. Each commit writes one new Parquet file under a hidden temporary name and renames it into place
(on object stores a single PUT), so a reader sees whole files only: a run killed mid-write leaves everything
committed before it readable, and the next run re-encodes only what was lost. Concurrent writers add distinct
files; rows they both wrote collapse to one on read (same key, same model: the same vector).

Each part's name carries the SHA-256 of its bytes; every lookup checks each part once per process (header,
footer, columns, dimension, checksum) and moves a bad one aside (:mod:`daft_retrieval.cache.health`), so its
texts are encoded again rather than one damaged file failing every later run. A cache that cannot be written
(read-only, full disk, or ``read_only=True``) still serves its hits; what it cannot store is returned, not lost.

    >>> cache = EmbeddingCache("~/.cache/daft_retrieval/embeddings")  # doctest: +SKIP
    >>> cache.stats()["entries"]  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
import warnings

import daft
import pyarrow as pa
import pyarrow.parquet as pq
from daft import col

from daft_retrieval.cache.fingerprint import HASH_1, HASH_2
from daft_retrieval.cache.health import META, QUARANTINE, SCHEMA, check_entry, quarantine, read_json
from daft_retrieval.cache.parts import is_part, one_line, part_name, shape_of
from daft_retrieval.errors import CacheError, DataError, DataWarning
from daft_retrieval.paths import cache_home
from daft_retrieval.schema import VALUE

__all__ = ["EmbeddingCache", "default_cache_dir"]

_META, _LAST = META, "last_run.json"
_PART = "_part"  # the part file a row was read from


def default_cache_dir() -> str:
    """``embeddings`` under the cache home (:func:`daft_retrieval.paths.cache_home`)."""
    return cache_home("embeddings")


def _s3_filesystem(io_config: daft.io.IOConfig):
    """A pyarrow S3 file system with the cache's own S3 settings (endpoint, credentials, region, anonymous)."""
    import pyarrow.fs as pafs

    s3 = io_config.s3
    return pafs.S3FileSystem(
        endpoint_override=s3.endpoint_url or None,
        access_key=s3.key_id,
        secret_key=s3.access_key,
        region=s3.region_name or "us-east-1",
        anonymous=bool(s3.anonymous),
    )


class EmbeddingCache:
    """A cache directory; counts the hits and misses of this process's lookups (see :meth:`stats`).

    Encoded texts are committed every ``commit_rows`` (what a killed run can lose at most). ``io_config``: the
    cache's own object-store settings (not the dataset's). ``read_only``: serve hits, store nothing (a shared
    cache); a cache found unwritable at a commit turns read-only too, with one DataWarning.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        io_config: daft.io.IOConfig | None = None,
        *,
        commit_rows: int = 4096,
        read_only: bool = False,
    ) -> None:
        import pyarrow.fs as pafs

        if commit_rows < 1:
            raise DataError(f"commit_rows must be >= 1, not {commit_rows}")
        self.commit_rows = commit_rows
        self.root = os.fspath(root)
        self.io_config = io_config
        self.read_only = read_only
        if self.root.startswith("s3://") and io_config is not None:
            self.fs = _s3_filesystem(io_config)  # the same settings for our writes as for Daft's reads
            self.base = self.root[len("s3://") :].rstrip("/")
        elif "://" in self.root:
            self.fs, self.base = pafs.FileSystem.from_uri(self.root)
        else:
            self.root = os.path.abspath(os.path.expanduser(self.root))
            self.fs, self.base = pafs.LocalFileSystem(), self.root
            if os.path.exists(self.root) and not os.path.isdir(self.root):
                raise CacheError(f"{self.root}: the embedding cache must be a folder, and this is a file")
        self.counts: dict[str, dict[str, int]] = {}
        self._checked: dict[str, tuple] = {}  # part path -> ((size, mtime), inspection): checked once per process
        self._reported: set[str] = set()  # problems warned about (once each)

    def __repr__(self) -> str:
        return f"EmbeddingCache({self.root!r})"

    # -- layout ------------------------------------------------------------------------------------------
    def _dir(self, fp: str) -> str:
        return f"{self.base}/{fp}"

    def _part_infos(self, fp: str) -> list:
        import pyarrow.fs as pafs

        try:
            infos = self.fs.get_file_info(pafs.FileSelector(self._dir(fp), allow_not_found=True))
        except NotADirectoryError:
            return []
        return sorted((i for i in infos if is_part(i.base_name) and i.type == pafs.FileType.File), key=lambda i: i.path)

    def _parts(self, fp: str) -> list[str]:
        return [i.path for i in self._part_infos(fp)]

    def _uri(self, path: str) -> str:
        return path if "://" not in self.root else f"{self.root.split('://')[0]}://{path}"

    def fingerprints(self) -> list[str]:
        """Fingerprints with a ``meta.json`` or a part in the cache."""
        import pyarrow.fs as pafs

        try:
            infos = self.fs.get_file_info(pafs.FileSelector(self.base, allow_not_found=True))
        except NotADirectoryError:
            return []
        folders = [i for i in infos if i.type == pafs.FileType.Directory and i.base_name != QUARANTINE]
        return sorted(i.base_name for i in folders if self._has_meta(i.path) or self._parts(i.base_name))

    def _has_meta(self, path: str) -> bool:
        import pyarrow.fs as pafs

        return self.fs.get_file_info(f"{path}/{_META}").type == pafs.FileType.File

    def meta(self, fp: str) -> dict:
        """The settings ``fp`` hashes (its ``meta.json``); ``{}`` when it is missing or damaged."""
        try:
            return read_json(self, f"{self._dir(fp)}/{_META}") or {}
        except (ValueError, OSError):
            return {}

    # -- reading -----------------------------------------------------------------------------------------
    def good_parts(self, fp: str) -> list[str]:
        """The parts of ``fp`` that read whole (every byte checked, once per process). A bad file is moved aside
        (or, in a read-only cache, skipped) with one DataWarning naming it."""
        check = check_entry(self, fp, deep=True, memo=self._checked)
        for problem in check.problems:
            if problem.source in self._reported:
                continue
            self._reported.add(problem.source)
            if problem.movable and self.writable:
                try:
                    problem = quarantine(self, problem)
                except FileNotFoundError:
                    continue  # another process moved it aside
                except OSError as exc:
                    self._cannot_write(exc)
            kept = (
                ""
                if problem.moved_to
                else " (left in place" + (": the cache is read-only)" if problem.movable else ")")
            )
            then = "its texts are encoded again" if problem.source.endswith(".parquet") else "it is written again"
            warnings.warn(f"embedding cache: {problem.line()}{kept}; {then}", DataWarning, stacklevel=3)
        return [path for path, _ in check.good]

    def lookup(self, fp: str) -> daft.DataFrame | None:
        """``_h1, _h2, value`` of every committed row of ``fp`` (one per key) in parts that read whole, or None
        when it has none.

        A key two writers both committed is kept from its first part (a part holds each key once): the keys and
        part names are grouped, and the values stream through a semi-join. Grouping the values themselves
        (``any_value``) held them all, several times over: 8.2 GiB for SciFact's 0.9 GB of fp16 token vectors,
        against 2.2 GiB this way.
        """
        parts = self.good_parts(fp)
        if not parts:
            return None
        frame = daft.read_parquet([self._uri(p) for p in parts], io_config=self.io_config, file_path_column=_PART)
        first = frame.select(HASH_1, HASH_2, _PART).groupby(HASH_1, HASH_2).agg(col(_PART).min())
        return frame.join(first, on=[HASH_1, HASH_2, _PART], how="semi").exclude(_PART)

    # -- writing -----------------------------------------------------------------------------------------
    @property
    def writable(self) -> bool:
        """False when asked to be read-only, or once a write failed (read-only folder, full disk)."""
        return not self.read_only

    def _cannot_write(self, exc: OSError) -> None:
        """Turn read-only for the rest of this process, with one DataWarning saying why."""
        if not self.read_only:
            self.read_only = True
            warnings.warn(
                f"embedding cache {self.root} cannot be written ({one_line(exc)}): hits are still served, new "
                "embeddings are not stored; make it writable or free space, or pass another --cache (or "
                "--cache-read-only)",
                DataWarning,
                stacklevel=4,
            )

    def _write(self, path: str, data: bytes) -> bool:
        """Write ``data`` at ``path`` atomically (locally: a hidden temporary file renamed into place). False
        when the cache cannot be written (it is read-only from then on)."""
        if self.read_only:
            return False
        folder, name = path.rsplit("/", 1)
        tmp = None
        try:
            self.fs.create_dir(folder, recursive=True)
            if "://" in self.root:
                with self.fs.open_output_stream(path) as fh:  # one PUT: atomic on object stores
                    fh.write(data)
                return True
            tmp = os.path.join(folder, f".tmp-{uuid.uuid4().hex}-{name}")
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            return True
        except OSError as exc:
            if tmp is not None and os.path.exists(tmp):
                with contextlib.suppress(OSError):
                    os.remove(tmp)
            self._cannot_write(exc)
            return False

    def _readable_json(self, path: str) -> bool:
        try:
            return read_json(self, path) is not None
        except (ValueError, OSError):
            return False

    def append(self, fp: str, meta: dict, table: pa.Table) -> int:
        """Commit ``_h1, _h2, value`` rows of ``fp`` as one new Parquet file; returns the rows written (0 when the
        cache cannot be written)."""
        if table.num_rows == 0:
            return 0
        missing = {HASH_1, HASH_2, VALUE} - set(table.column_names)
        if missing:
            raise DataError(f"cache rows need columns _h1, _h2, value; missing {sorted(missing)}")
        if self.read_only:
            return 0
        folder = self._dir(fp)
        if not self._readable_json(f"{folder}/{_META}"):
            self._write(f"{folder}/{_META}", json.dumps(meta, indent=1, sort_keys=True).encode())
        sink = pa.BufferOutputStream()
        pq.write_table(table.select([HASH_1, HASH_2, VALUE]), sink)
        data = sink.getvalue().to_pybytes()
        if not self._write(f"{folder}/{part_name(data)}", data):
            return 0
        if not self._readable_json(f"{folder}/{SCHEMA}"):  # dense vectors all have one length; tokens, sparse vary
            shape = shape_of(data, fixed_length=meta.get("kind") == "dense")
            self._write(f"{folder}/{SCHEMA}", json.dumps(shape.as_dict()).encode())
        return table.num_rows

    # -- bookkeeping -------------------------------------------------------------------------------------
    def count(self, fp: str, *, hits: int, misses: int) -> None:
        """Add one lookup's hits and misses to this run's counts, and save them as the last run's."""
        entry = self.counts.setdefault(fp, {"hits": 0, "misses": 0})
        entry["hits"] += hits
        entry["misses"] += misses
        self._write(f"{self.base}/{_LAST}", json.dumps({"time": time.time(), "counts": self.counts}).encode())

    def last_run(self) -> dict:
        """Hits and misses per fingerprint of the last run that used this cache (empty if none or unreadable)."""
        try:
            return read_json(self, f"{self.base}/{_LAST}") or {}
        except (ValueError, OSError):
            return {}

    def stats(self) -> dict:
        """Per fingerprint: its settings, rows (counting duplicates), files and bytes of the parts that read
        whole, and the ``damaged`` files (structure only: ``cache verify`` checks every byte); plus the last
        run's counts. Never moves anything."""
        import pyarrow.fs as pafs

        entries = []
        for fp in self.fingerprints():
            check = check_entry(self, fp, deep=False)
            parts = [path for path, _ in check.good]
            size = sum(i.size for i in self.fs.get_file_info(parts)) if parts else 0
            infos = self.fs.get_file_info(pafs.FileSelector(self._dir(fp), allow_not_found=True))
            stale = sum(1 for i in infos if i.base_name.startswith(".tmp-"))
            meta = {"kind": "?", "role": "?", "model": "?", **self.meta(fp)}
            entries.append(
                {
                    "fingerprint": fp,
                    **meta,
                    "rows": sum(inspection.rows for _, inspection in check.good),
                    "files": len(parts),
                    "bytes": size,
                    "stale_temporary_files": stale,
                    "damaged": [{"path": p.path, "problem": p.why} for p in check.problems],
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
                if self.read_only:
                    raise CacheError(f"{self._uri(self._dir(fp))}: cannot prune a read-only cache")
                try:
                    self.fs.delete_dir(self._dir(fp))
                except OSError as exc:
                    raise CacheError(
                        f"{self._uri(self._dir(fp))}: cannot delete it ({one_line(exc)}); make it writable"
                    ) from None
                removed.append(fp)
        return removed
