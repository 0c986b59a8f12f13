"""Committed cache parts: a name that carries the part's checksum, and the checks a part must pass to be read.

A part is named ``part-<time_ns>-<random>-<sha256[:32]>.parquet``: the checksum of its bytes travels in the one
atomic rename (or PUT) that commits it, so no manifest can disagree with the parts and concurrent writers never
contend for one. Parts written before checksums (``part-<time_ns>-<random>.parquet``) are still read; a deep
check decodes them in full instead.

A part is bad when it is empty, not Parquet, truncated, fails its checksum, lacks the ``_h1, _h2, value``
columns, holds no rows, or holds values of another type or dimension than its entry expects (:func:`mismatch`).

    >>> data = b"PAR1 ... PAR1"
    >>> recorded_checksum(part_name(data)) == hashlib.sha256(data).hexdigest()[:32]
    True
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from daft_retrieval.cache.fingerprint import HASH_1, HASH_2
from daft_retrieval.schema import VALUE

__all__ = [
    "Inspection",
    "Shape",
    "inspect_part",
    "is_part",
    "mismatch",
    "one_line",
    "part_name",
    "recorded_checksum",
    "shape_of",
]

_MAGIC = b"PAR1"
_NAMED = re.compile(r"^part-\d+-[0-9a-f]{12}-([0-9a-f]{32})\.parquet$")
_BLOCK = 1 << 20


def is_part(name: str) -> bool:
    """Whether a file name is a committed part (hidden ``.tmp-`` files being written are not)."""
    return name.startswith("part-") and name.endswith(".parquet")


def part_name(data: bytes) -> str:
    """A new part's name: commit time, a random tag, and the first 128 bits of the SHA-256 of ``data``."""
    digest = hashlib.sha256(data).hexdigest()[:32]
    return f"part-{time.time_ns()}-{uuid.uuid4().hex[:12]}-{digest}.parquet"


def recorded_checksum(name: str) -> str | None:
    """The checksum a part's name records, or None for a part written before checksums."""
    found = _NAMED.match(name)
    return found.group(1) if found else None


@dataclass(frozen=True)
class Shape:
    """What a part's values are: their Arrow type, and ``dim`` values per row where every row must hold as
    many (dense vectors; None for token matrices and sparse vectors, whose lengths vary)."""

    value_type: str
    dim: int | None = None

    def as_dict(self) -> dict:
        return {"value_type": self.value_type, "dim": self.dim}


@dataclass(frozen=True)
class Inspection:
    """One part's check: ``problem`` (None when it reads whole), its rows, and its values' type and mean length
    (``shape.dim``: leaf values per row, None when rows do not all hold the same number)."""

    problem: str | None
    rows: int = 0
    shape: Shape | None = None


def _footer(file: pa.NativeFile, size: int) -> tuple[str | None, pq.ParquetFile | None]:
    if size == 0:
        return "is empty (0 bytes)", None
    if size < 12 or file.read_at(4, 0) != _MAGIC:
        return "is not a Parquet file (no PAR1 header)", None
    if file.read_at(4, size - 4) != _MAGIC:
        return f"is truncated ({size:,} bytes, no Parquet footer)", None
    try:
        return None, pq.ParquetFile(file)
    except (pa.ArrowException, OSError, ValueError) as exc:
        return f"has an unreadable Parquet footer ({one_line(exc)})", None


def one_line(exc: BaseException) -> str:
    """An error's message on one line (at most 160 characters)."""
    return " ".join(str(exc).split())[:160] or type(exc).__name__


def _shape(parquet: pq.ParquetFile) -> tuple[str | None, int, Shape | None]:
    schema, meta = parquet.schema_arrow, parquet.metadata
    missing = [c for c in (HASH_1, HASH_2, VALUE) if c not in schema.names]
    if missing:
        return f"has columns {schema.names}, expected {HASH_1}, {HASH_2}, {VALUE}", 0, None
    if meta.num_rows == 0:
        return "holds no rows (this cache never commits an empty part)", 0, None
    leaf = next(j for j in range(meta.num_columns) if meta.schema.column(j).path.split(".")[0] == VALUE)
    values = sum(meta.row_group(g).column(leaf).num_values for g in range(meta.num_row_groups))
    dim = values // meta.num_rows if values % meta.num_rows == 0 else None
    return None, meta.num_rows, Shape(str(schema.field(VALUE).type), dim)


def _deep(file: pa.NativeFile, parquet: pq.ParquetFile, name: str) -> str | None:
    """Check every byte: the checksum the name records, or (an older part) decode every row group."""
    expected = recorded_checksum(name)
    if expected is None:
        try:
            for _ in parquet.iter_batches():
                pass
        except (pa.ArrowException, OSError, ValueError) as exc:
            return f"cannot be decoded ({one_line(exc)})"
        return None
    digest = hashlib.sha256()
    file.seek(0)
    for block in iter(lambda: file.read(_BLOCK), b""):
        digest.update(block)
    if digest.hexdigest()[:32] != expected:
        return f"fails its checksum (sha256 {digest.hexdigest()[:12]}..., its name records {expected[:12]}...)"
    return None


def inspect_part(fs, path: str, size: int, *, deep: bool) -> Inspection:
    """Check the part at ``path`` (``size`` bytes) on the pyarrow file system ``fs``: its structure (header,
    footer, columns, rows, shape), and with ``deep`` every byte (checksum). Raises OSError when it cannot be read
    at all (FileNotFoundError: gone, e.g. moved aside by another process)."""
    with fs.open_input_file(path) as file:
        problem, parquet = _footer(file, size)
        if parquet is None:
            return Inspection(problem)
        problem, rows, shape = _shape(parquet)
        if problem is None and deep:
            problem = _deep(file, parquet, path.rsplit("/", 1)[-1])
        return Inspection(problem, rows, shape)


def mismatch(found: Shape, expected: Shape) -> str | None:
    """Why a part of shape ``found`` does not belong to an entry of shape ``expected`` (None when it does)."""
    if found.value_type != expected.value_type:
        return f"holds values of type {found.value_type}, expected {expected.value_type}"
    if expected.dim is not None and found.dim != expected.dim:
        held = f"{found.dim}-dimensional vectors" if found.dim is not None else "vectors of unequal lengths"
        return f"holds {held}, expected {expected.dim} dimensions"
    return None


def shape_of(data: bytes, *, fixed_length: bool) -> Shape:
    """The shape of a part just written (``data``: its bytes), read back as a reader will see it;
    ``fixed_length``: every row holds as many values (dense vectors), so that number is expected of all parts."""
    _, _, shape = _shape(pq.ParquetFile(pa.BufferReader(data)))
    return Shape(shape.value_type, shape.dim if fixed_length else None)
