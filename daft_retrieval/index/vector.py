"""Exact vector index: an index directory of Parquet shards (``doc_id, embedding``) and ``index.json``.

Search is a :class:`VectorSearcher` Daft class per shard: its ``__init__`` loads one shard's matrix on the worker
(never in the driver) and its batch method returns each query's top k of that shard as
``list<struct{doc_id, score}>``; the shards' lists are exploded and merged by :func:`daft_retrieval.run.rank_run`.
Scores: dot product (``metric="dot"``) or cosine (``metric="cosine"``: vectors are L2-normalised first).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import daft
import numpy as np
import pyarrow as pa
from daft import DataType, col

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError
from daft_retrieval.index.atomic import ShardedIndex, atomic_directory, check_index_dir, write_shards
from daft_retrieval.memo import load_once
from daft_retrieval.progress import Progress
from daft_retrieval.score.unit import unit_rows

__all__ = ["VectorIndex", "VectorSearcher", "build_vector_index", "check_metric", "open_vector_index", "to_matrix"]

HIT = DataType.list(DataType.struct({S.DOC_ID: DataType.string(), S.SCORE: DataType.float64()}))


@dataclass(frozen=True, kw_only=True)
class VectorIndex(ShardedIndex):
    """What ``index.json`` records: where the shards are, how their vectors were made and compared (``metric``)."""

    metric: str

    kind: ClassVar[str] = "vector index"
    builder: ClassVar[str] = "build_vector_index"


def to_matrix(column: pa.ChunkedArray | pa.Array, dim: int) -> np.ndarray:
    """An Arrow embedding / fixed-size-list / list column as a ``(rows, dim)`` float32 matrix, without copies."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if isinstance(array, pa.ExtensionArray):
        array = array.storage
    flat = array.flatten().to_numpy(zero_copy_only=False)
    return flat.astype(np.float32, copy=False).reshape(-1, dim)


def check_metric(metric: str) -> None:
    """Raise :class:`DataError` unless ``metric`` is "cosine" or "dot" (inner product)."""
    if metric not in ("cosine", "dot"):
        raise DataError(f"metric must be 'cosine' or 'dot', not {metric!r}")


def build_vector_index(
    embedded: daft.DataFrame,
    path: str,
    *,
    metric: str = "cosine",
    shard_rows: int = 250_000,
    encoder: dict | None = None,
    then: Callable[[str, tuple[str, ...], dict], dict] | None = None,
) -> VectorIndex:
    """Write ``doc_id, embedding`` rows as an index directory (written aside, then renamed into place).

    ``then(folder, shards, meta)``: called inside the same atomic write once the shards are in ``folder``; it may
    write more files there (an approximate index beside each shard) and returns fields added to ``index.json``.

    >>> build_vector_index(embedded, "data/index/demo-minilm")  # doctest: +SKIP
    """
    check_metric(metric)
    S.require_columns(embedded, [S.DOC_ID, S.EMBEDDING], "embedded corpus")
    check_index_dir(path)  # before the corpus is encoded
    dtype = embedded.schema()[S.EMBEDDING].dtype
    count = embedded.count_rows()
    if count == 0:
        raise DataError("cannot index an empty corpus")
    dim = len(embedded.limit(1).to_pydict()[S.EMBEDDING][0])
    with atomic_directory(path, "vector index") as tmp:
        # one shard per Parquet file Daft writes (per partition, split at Daft's target file size)
        frame = embedded.select(col(S.DOC_ID), col(S.EMBEDDING).cast(DataType.fixed_size_list(DataType.float32(), dim)))
        meta = {"dim": dim, "count": count, "metric": metric, "encoder": encoder or {}, "dtype": str(dtype)}
        shards = write_shards(frame, tmp, meta)
        extra = then(tmp, shards, meta) if then is not None else {}
        if extra:
            with open(os.path.join(tmp, S.INDEX_FILE), "w") as fh:
                json.dump({**meta, **extra, "shards": list(shards)}, fh, indent=1)
    return VectorIndex(path=path, dim=dim, count=count, metric=metric, shards=shards, encoder=encoder or {})


def open_vector_index(path: str) -> VectorIndex:
    """Read ``index.json`` of an index directory (only metadata: the shards load on the workers)."""
    return VectorIndex.open(path)


def _load_shard(file: str, dim: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(doc ids, matrix) of one shard, loaded once per process and shared by every searcher instance."""

    def build() -> tuple[np.ndarray, np.ndarray]:
        import pyarrow.parquet as pq

        table = pq.read_table(file)
        matrix = unit_rows(to_matrix(table.column(S.EMBEDDING), dim), metric)
        return np.asarray(table.column(S.DOC_ID).to_pylist(), dtype=object), matrix

    key = ("vector-shard", os.path.abspath(file), os.path.getmtime(file), dim, metric)
    return load_once(key, build, files=[file])


@daft.cls(name_override="VectorSearcher")
class VectorSearcher:
    """Exact top-k over one shard of a vector index, applied to a column of query vectors.

    >>> searcher = VectorSearcher("data/index/demo/shards/0.parquet", 384, "cosine", 10)  # doctest: +SKIP
    >>> queries.select(searcher.top_k(daft.col(S.EMBEDDING)))  # doctest: +SKIP
    """

    def __init__(self, file: str, dim: int, metric: str, k: int) -> None:
        self.ids, self.matrix = _load_shard(file, dim, metric)
        self.dim, self.metric, self.k = dim, metric, k
        # score blocks of at most ~256 MB: (query block) x (shard rows) float32
        self.block = max(1, (1 << 26) // max(1, len(self.ids)))
        self.progress = Progress(f"searching {len(self.ids):,} vectors (queries)")

    @daft.method.batch(return_dtype=HIT, batch_size=1024)
    def top_k(self, vectors: daft.Series) -> list:
        queries = unit_rows(to_matrix(vectors.to_arrow(), self.dim), self.metric)
        k = min(self.k, len(self.ids))
        out: list = []
        for start in range(0, len(queries), self.block):
            scores = queries[start : start + self.block] @ self.matrix.T
            top = (
                np.argpartition(-scores, k - 1, axis=1)[:, :k]
                if k < scores.shape[1]
                else np.tile(np.arange(scores.shape[1]), (len(scores), 1))
            )
            # BLAS gives a row different last bits by the rows beside it (a lone query takes the matrix-vector
            # path): the kept scores are computed again per query, in float64 by einsum's own loop, so a score
            # depends only on its query and document, whatever batch Daft hands this method
            for q, ids in zip(queries[start : start + self.block].astype(np.float64), top):
                sc = np.einsum("d,nd->n", q, self.matrix[ids].astype(np.float64))
                out.append([{S.DOC_ID: d, S.SCORE: s} for d, s in zip(self.ids[ids].tolist(), sc.tolist())])
        self.progress.add(len(queries))
        return out
