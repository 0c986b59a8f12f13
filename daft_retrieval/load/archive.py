"""BEIR zip archives by URL (or path): downloaded once into the user's cache, checked, unpacked atomically.

``beir:NAME`` names an official BEIR dataset (https://github.com/beir-cellar/beir), e.g. ``beir:scifact``.

    >>> folder = beir_archive("beir:scifact")  # online: downloads 2.7 MB once  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
import zipfile

from daft_retrieval.errors import DataError
from daft_retrieval.paths import cache_home

__all__ = ["BEIR_URL", "beir_archive", "is_archive"]

BEIR_URL = "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/{name}.zip"


def is_archive(path: str) -> bool:
    """True for ``beir:NAME`` and for paths or URLs ending in ``.zip``."""
    return path.startswith("beir:") or path.split("?")[0].lower().endswith(".zip")


def _download(url: str, target: str, timeout: float) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(target, "wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
    except OSError as exc:  # URLError, HTTPError, timeouts
        raise DataError(f"{url}: download failed: {exc}") from exc


def beir_archive(spec: str, *, cache_dir: str | None = None, timeout: float = 120.0) -> str:
    """The local folder of the BEIR dataset in the zip at ``spec`` (``beir:NAME``, a URL or a local path)."""
    url = BEIR_URL.format(name=spec[5:]) if spec.startswith("beir:") else spec
    name = os.path.basename(url.split("?")[0])[: -len(".zip")] or "dataset"
    key = hashlib.sha1(url.encode()).hexdigest()[:10]
    target = os.path.join(cache_dir or cache_home("datasets"), f"{name}-{key}")
    if not os.path.isdir(target):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        tmp = tempfile.mkdtemp(dir=os.path.dirname(target), prefix=f".{name}-")
        try:
            archive = os.path.join(tmp, "archive.zip")
            if "://" in url:
                _download(url, archive, timeout)
            elif os.path.exists(url):
                shutil.copyfile(url, archive)
            else:
                raise DataError(f"{url}: no such archive")
            try:
                with zipfile.ZipFile(archive) as zf:
                    bad = zf.testzip()
                    if bad is not None:
                        raise DataError(f"{url}: corrupt archive (member {bad} fails its CRC); delete and retry")
                    zf.extractall(os.path.join(tmp, "files"))
            except zipfile.BadZipFile as exc:
                raise DataError(f"{url}: not a zip archive ({exc})") from exc
            os.remove(archive)
            try:
                os.rename(tmp, target)
            except OSError:  # another process unpacked it first
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    for folder, _, names in sorted(os.walk(target)):
        if "corpus.jsonl" in names:
            return folder
    raise DataError(f"{url}: the archive holds no BEIR folder (corpus.jsonl); unpacked at {target}")
