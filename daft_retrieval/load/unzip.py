"""Unpack a zip archive safely: size and ratio limits (zip bombs), no member outside the folder, every CRC checked.

Limits, checked on the archive's directory before anything is written and again on the bytes as they unpack:

- ``max_bytes``, the total unpacked size: default 20 GiB (BEIR's largest archive, MS MARCO, unpacks to about
  3 GB), else ``$DAFT_RETRIEVAL_MAX_ARCHIVE_BYTES`` (``500M``, ``20G``, ``2TiB`` or a number of bytes);
- ``max_ratio``, unpacked over packed size, of each member and of the whole: default 200 (text compresses about
  3-10x), else ``$DAFT_RETRIEVAL_MAX_ARCHIVE_RATIO``; applied once a member (or the whole) passes 1 MiB unpacked.

A member named ``../x`` or ``/x``, a link, an encrypted member, a bad CRC or broken compressed data is an
:class:`ArchiveError` naming the archive and the member.

    >>> unpack("scifact.zip", "folder", source="beir:scifact", max_bytes=parse_size("1G"))  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
import re
import stat
import zipfile
import zlib

from daft_retrieval.errors import ArchiveError, DataError, OutputError

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_RATIO", "archive_limits", "parse_size", "unpack"]

DEFAULT_MAX_BYTES = 20 << 30
DEFAULT_MAX_RATIO = 200.0
MAX_BYTES_ENV = "DAFT_RETRIEVAL_MAX_ARCHIVE_BYTES"
MAX_RATIO_ENV = "DAFT_RETRIEVAL_MAX_ARCHIVE_RATIO"
_RATIO_FLOOR = 1 << 20
_BLOCK = 1 << 20
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str | int) -> int:
    """A number of bytes from ``123``, ``500M``, ``20G``, ``1.5GiB`` (binary units: K = 1024); > 0.

    >>> parse_size("20G"), parse_size("512k"), parse_size(1000)
    (21474836480, 524288, 1000)
    """
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", str(text), flags=re.I)
    value = float(found.group(1)) * _UNITS[found.group(2).lower()] if found else math.nan
    if not math.isfinite(value) or value < 1:
        raise DataError(f"not a size: {text!r}; give bytes or a number with K, M, G or T, e.g. 20G")
    return int(value)


def archive_limits(max_bytes: int | str | None = None, max_ratio: float | None = None) -> tuple[int, float]:
    """``(max_bytes, max_ratio)``: the values given, else the environment's, else 20 GiB and 200.

    >>> archive_limits("1G", 50)
    (1073741824, 50.0)
    """
    if max_bytes is None:
        max_bytes = os.environ.get(MAX_BYTES_ENV) or DEFAULT_MAX_BYTES
    if max_ratio is None:
        max_ratio = os.environ.get(MAX_RATIO_ENV) or DEFAULT_MAX_RATIO
    try:
        ratio = float(max_ratio)
    except (TypeError, ValueError):
        ratio = math.nan
    if not math.isfinite(ratio) or ratio < 1:
        raise DataError(f"the archive ratio limit must be a number >= 1, not {max_ratio!r}")
    return parse_size(max_bytes), ratio


def _raise_hint(what: str) -> str:
    return (
        f"if you trust it, raise the limit: --max-archive-{what} / max_archive_{what}= / "
        f"DAFT_RETRIEVAL_MAX_ARCHIVE_{what.upper()}"
    )


def _member_path(dest: str, source: str, info: zipfile.ZipInfo) -> str | None:
    """Where a member goes under ``dest`` (None for a folder entry); an ArchiveError for one that would escape."""
    name = info.filename
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts:
        raise ArchiveError(f"{source}: member {name!r} points outside the archive's folder; refusing to unpack it")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise ArchiveError(f"{source}: member {name!r} is a symbolic link; refusing to unpack it")
    if info.flag_bits & 0x1:
        raise ArchiveError(f"{source}: member {name!r} is encrypted; unpack it yourself and give the folder")
    parts = [p for p in parts if p not in ("", ".")]
    if not parts or name.endswith("/"):
        return None
    return os.path.join(dest, *parts)


def _check_sizes(zf: zipfile.ZipFile, source: str, packed: int, max_bytes: int, max_ratio: float) -> None:
    total = 0
    for info in zf.infolist():
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _RATIO_FLOOR and ratio > max_ratio:
            raise ArchiveError(
                f"{source}: member {info.filename!r} unpacks {ratio:,.0f}x its packed size ({info.file_size:,} "
                f"bytes), over the limit of {max_ratio:g}x (a zip bomb?); {_raise_hint('ratio')}"
            )
    if total > max_bytes:
        raise ArchiveError(
            f"{source}: unpacks to {total:,} bytes, over the limit of {max_bytes:,}; {_raise_hint('bytes')}"
        )
    if total > _RATIO_FLOOR and total / max(packed, 1) > max_ratio:
        raise ArchiveError(
            f"{source}: unpacks {total / max(packed, 1):,.0f}x its size ({total:,} bytes), over the limit of "
            f"{max_ratio:g}x (a zip bomb?); {_raise_hint('ratio')}"
        )


def _extract(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: str, source: str, budget: int) -> int:
    """Write one member; the bytes written. Refuses more bytes than the member declares or the budget allows."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    written = 0
    with zf.open(info) as member, open(target, "wb") as out:
        while block := member.read(_BLOCK):
            written += len(block)
            if written > info.file_size or written > budget:
                raise ArchiveError(
                    f"{source}: member {info.filename!r} unpacks past its declared size or the size limit; "
                    "the archive is corrupt or hostile"
                )
            out.write(block)
    return written


def unpack(
    archive: str, dest: str, *, source: str, max_bytes: int | None = None, max_ratio: float | None = None
) -> None:
    """Unpack the zip file ``archive`` into the folder ``dest`` (created), within the limits; ``source`` names the
    archive in messages (the path or URL as the user gave it)."""
    max_bytes, max_ratio = archive_limits(max_bytes, max_ratio)
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise ArchiveError(
            f"{source}: not a zip archive ({exc}); check the file, or delete it and download it again"
        ) from None
    with zf:
        infos = zf.infolist()
        _check_sizes(zf, source, os.path.getsize(archive), max_bytes, max_ratio)
        targets = [_member_path(dest, source, info) for info in infos]  # every name checked before writing
        names = [t for t in targets if t is not None]
        if len(set(names)) != len(names):
            twice = next(info.filename for info, t in zip(infos, targets) if t is not None and names.count(t) > 1)
            raise ArchiveError(f"{source}: member {twice!r} is in the archive twice; refusing to pick one")
        os.makedirs(dest, exist_ok=True)
        left = max_bytes
        for info, target in zip(infos, targets):
            if target is None:
                continue
            try:
                left -= _extract(zf, info, target, source, left)
            except ArchiveError:
                raise
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError) as exc:
                raise ArchiveError(
                    f"{source}: member {info.filename!r} is corrupt ({exc}); delete the archive and download it again"
                ) from None
            except OSError as exc:
                raise OutputError(
                    f"{dest}: cannot unpack {source} here ({exc.strerror or exc}); free some space, or set "
                    "DAFT_RETRIEVAL_CACHE to another folder"
                ) from None
