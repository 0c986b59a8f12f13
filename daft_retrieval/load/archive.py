"""BEIR zip archives by path or URL, unpacked once into a folder of the user's cache named by the archive's content.

``beir:NAME`` names an official BEIR dataset (https://github.com/beir-cellar/beir), e.g. ``beir:scifact``.

The folder's name holds a key of what was unpacked, so a changed archive is unpacked again and two archives of
the same file name never share a folder:

- a local zip: its SHA-256 (read at about 1.5 GB/s): identical bytes share one folder wherever they lie;
- a URL: the URL with the server's ``ETag``, ``Last-Modified`` and ``Content-Length`` (asked with a HEAD, so an
  unchanged archive is not downloaded again); a server giving neither validator is downloaded every time and
  keyed by the SHA-256 of what came.

Unpacking goes to a hidden temporary folder renamed into place (a crash or a race leaves no half folder), within
the size and ratio limits of :mod:`~daft_retrieval.load.unzip`. Downloads have the limits of
:mod:`~daft_retrieval.load.http` (``timeout``; a body cut short is refused).

    >>> folder = beir_archive("beir:scifact")  # online: downloads 2.7 MB once  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile

from daft_retrieval.errors import ArchiveError, DataError, OutputError
from daft_retrieval.paths import cache_home

__all__ = ["BEIR_URL", "archive_key", "beir_archive", "is_archive"]

BEIR_URL = "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/{name}.zip"


def is_archive(path: str) -> bool:
    """True for ``beir:NAME`` and for paths or URLs ending in ``.zip``."""
    return path.startswith("beir:") or path.split("?")[0].lower().endswith(".zip")


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def archive_key(path_or_url: str, headers: dict | None = None) -> str | None:
    """The key of an archive: of a local file, its SHA-256; of a URL, a hash of the URL and the server's
    validators (``headers``, names lower-cased), or None when the server gives none.

    >>> archive_key("https://h/a.zip", {"etag": '"1"', "content-length": "10"})
    'ud0e2f67ca445bbe1'
    """
    if "://" not in path_or_url:
        return "c" + _sha256(path_or_url)[:16]
    headers = headers or {}
    if not headers.get("etag") and not headers.get("last-modified"):
        return None
    fields = [path_or_url, headers.get("etag", ""), headers.get("last-modified", ""), headers.get("content-length", "")]
    return "u" + hashlib.sha256("\n".join(fields).encode()).hexdigest()[:16]


def _beir_folder(target: str, source: str) -> str:
    for folder, _, names in sorted(os.walk(target)):
        if "corpus.jsonl" in names or "corpus.jsonl.gz" in names:
            return folder
    raise ArchiveError(f"{source}: the archive holds no BEIR folder (no corpus.jsonl); unpacked at {target}")


def _settle(tmp: str, target: str) -> None:
    """Rename the unpacked ``tmp`` to ``target`` (another process may have done it first: keep theirs)."""
    try:
        os.rename(tmp, target)
    except OSError:
        if not os.path.isdir(target):
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def beir_archive(
    spec: str,
    *,
    cache_dir: str | None = None,
    timeout: float | None = None,
    max_bytes: int | str | None = None,
    max_ratio: float | None = None,
) -> str:
    """The local folder of the BEIR dataset in the zip at ``spec`` (``beir:NAME``, a URL or a local path),
    unpacked under ``cache_dir`` (default ``$DAFT_RETRIEVAL_CACHE/datasets``) into a folder keyed by its content.

    ``timeout``: seconds for the download to answer and between its blocks (default 60,
    ``$DAFT_RETRIEVAL_TIMEOUT``); ``max_bytes``/``max_ratio``: the unpacking limits (20 GiB, 200x).
    """
    from daft_retrieval.load.http import download, head
    from daft_retrieval.load.io import remote_timeout
    from daft_retrieval.load.unzip import archive_limits, unpack

    url = BEIR_URL.format(name=spec[5:]) if spec.startswith("beir:") else spec
    limits = archive_limits(max_bytes, max_ratio)  # bad limits fail before any download
    name = os.path.basename(url.split("?")[0])[: -len(".zip")] or "dataset"
    root = cache_dir or cache_home("datasets")
    remote = "://" in url
    if not remote and not os.path.isfile(url):
        raise DataError(f"{url}: no such archive" if not os.path.exists(url) else f"{url}: is not a file")
    seconds = remote_timeout(timeout)
    key = archive_key(url, dict(head(url, timeout=seconds).headers) if remote else None)
    if key is not None and os.path.isdir(os.path.join(root, f"{name}-{key}")):
        return _beir_folder(os.path.join(root, f"{name}-{key}"), spec)
    try:
        os.makedirs(root, exist_ok=True)
        tmp = tempfile.mkdtemp(dir=root, prefix=f".{name}-")
    except OSError as exc:
        raise OutputError(
            f"{root}: cannot create the dataset cache ({exc.strerror}); set DAFT_RETRIEVAL_CACHE"
        ) from None
    try:
        archive = url
        if remote:
            archive = os.path.join(tmp, "archive.zip")
            answer = download(url, archive, timeout=seconds)
            key = archive_key(url, dict(answer.headers)) or "c" + _sha256(archive)[:16]
        target = os.path.join(root, f"{name}-{key}")
        if not os.path.isdir(target):
            unpack(archive, os.path.join(tmp, "files"), source=spec, max_bytes=limits[0], max_ratio=limits[1])
            if remote:
                os.remove(archive)
            _settle(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return _beir_folder(target, spec)
