"""Approximate vector index: the exact index's Parquet shards plus one FAISS index per shard (Johnson, Douze and
Jégou, 2019, "Billion-scale similarity search with GPUs"), made from a factory string (``Flat``, ``HNSW32``,
``IVF64,PQ16`` ...) with inner-product metric (cosine: vectors L2-normalised first, as the exact index does).

* Build: :func:`build_faiss_index` writes the shards (``build_vector_index``) and, in the same atomic write,
  ``faiss/<shard>.faiss`` beside them; ``index.json`` records the factory, the training rows and the seed.
  Indexes that need training (IVF, PQ) are trained once, on the rows whose Daft hash of ``doc_id`` (seeded) is
  among the smallest ``max(39 * nlist, 256 * 2**nbits)`` (all rows when fewer): the same sample on any runner and
  partitioning. Each shard's rows go in in doc id order, on one thread (HNSW's graph then does not depend on
  thread timing), so a build is the same every time.
* Search: a :class:`FaissSearcher` per shard finds ``refine * k`` candidates by FAISS (``ef_search`` for HNSW,
  ``nprobe`` for IVF) and scores them exactly, in float64 from the stored vectors, as
  :class:`~daft_retrieval.index.vector.VectorSearcher` does: a score depends only on query and document, and
  ``Flat`` gives exactly the exact search.

    >>> parse_index("exact") is None
    True
    >>> parse_index("faiss:HNSW32")  # doctest: +SKIP
    'HNSW32'
    >>> FaissOptions.of({"nprobe": 16})
    FaissOptions(ef_search=64, nprobe=16, refine=1)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

import daft
import numpy as np
from daft import col

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError
from daft_retrieval.index.vector import HIT, VectorIndex, build_vector_index, check_metric, to_matrix
from daft_retrieval.memo import load_once
from daft_retrieval.progress import Progress
from daft_retrieval.score.unit import unit_rows

__all__ = [
    "FaissIndex",
    "FaissOptions",
    "FaissSearcher",
    "build_faiss_index",
    "check_factory",
    "import_faiss",
    "open_faiss_index",
    "parse_index",
    "training_rows",
    "training_sample",
    "write_faiss_files",
]

INDEX_FORMS = (
    "'exact' or 'faiss:FACTORY' (e.g. 'faiss:Flat', 'faiss:HNSW32', 'faiss:IVF64,Flat', 'faiss:IVF64,PQ16') or 'qdrant'"
)
_PROBE_DIMS = (384, 768, 1024, 1536)  # a factory is accepted early if FAISS can build it at one common dimension


def import_faiss() -> Any:
    """The ``faiss`` module, or a :class:`DataError` naming the extra that installs it."""
    try:
        import faiss
    except ImportError as exc:
        raise DataError(
            "a 'faiss:...' index needs FAISS, which is not installed: pip install 'daft-retrieval[faiss]' "
            "(or pip install faiss-cpu); index='exact' needs nothing more"
        ) from exc
    return faiss


def _factory_error(factory: str, why: str, at: str = "") -> DataError:
    first = why.strip().splitlines()[0] if why.strip() else "rejected"
    first = first.rsplit(": ", 1)[-1] if "Error in" in first else first
    return DataError(
        f"FAISS cannot build the factory string {factory!r}{at} ({first}); give index as {INDEX_FORMS}, "
        "see https://github.com/facebookresearch/faiss/wiki/The-index-factory"
    )


def check_factory(factory: str) -> str:
    """``factory`` if FAISS builds an index from it (at one of a few common dimensions), else a :class:`DataError`."""
    if not isinstance(factory, str) or not factory.strip():
        raise DataError(f"the FAISS factory string is empty; give index as {INDEX_FORMS}")
    faiss = import_faiss()
    why = ""
    for dim in _PROBE_DIMS:
        try:
            faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
            return factory
        except RuntimeError as exc:  # FAISS raises RuntimeError for any bad string
            why = why or str(exc)
    raise _factory_error(factory, why)


def parse_index(index: str) -> str | None:
    """None for ``"exact"``, the factory string for ``"faiss:FACTORY"`` (checked), else a :class:`DataError`."""
    if index == "exact":
        return None
    if isinstance(index, str) and index.startswith("faiss:"):
        return check_factory(index.removeprefix("faiss:"))
    raise DataError(f"index must be {INDEX_FORMS}, not {index!r}")


@dataclass(frozen=True)
class FaissOptions:
    """Search settings: ``ef_search`` (HNSW's candidate list), ``nprobe`` (IVF lists visited, at most nlist),
    ``refine`` (FAISS finds ``refine * k`` candidates per shard, which are scored exactly and cut to ``k``)."""

    ef_search: int = 64
    nprobe: int = 8
    refine: int = 1

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise DataError(f"FAISS option {f.name} must be an integer >= 1, not {value!r}")

    @classmethod
    def of(cls, options: FaissOptions | Mapping[str, Any] | None) -> FaissOptions:
        """Options from a mapping (unknown keys are a :class:`DataError` naming the known ones)."""
        if isinstance(options, FaissOptions):
            return options
        options = dict(options or {})
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise DataError(f"unknown FAISS index option(s) {unknown}; the options are {known}")
        return cls(**options)

    def as_dict(self) -> dict[str, int]:
        """The options as a plain dict (what a run's provenance records)."""
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class FaissIndex(VectorIndex):
    """What ``index.json`` records: the exact index's fields plus the factory, one FAISS file per shard (relative
    to ``path``, in the order of ``shards``), the rows it was trained on (0: no training) and the seed."""

    factory: str
    faiss_files: tuple[str, ...]
    train_rows: int
    seed: int

    kind: ClassVar[str] = "FAISS index"
    builder: ClassVar[str] = "build_faiss_index (or dense_search(..., index='faiss:FACTORY'))"
    marker: ClassVar[str] = "factory"
    not_one: ClassVar[str] = "is an exact vector index without FAISS files"

    def __post_init__(self) -> None:
        object.__setattr__(self, "faiss_files", tuple(self.faiss_files))  # a list in index.json


def open_faiss_index(path: str) -> FaissIndex:
    """Read ``index.json`` of a FAISS index directory; an exact-only index is a :class:`DataError`."""
    return FaissIndex.open(path)


def _shard_rows(file: str, dim: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(doc ids, vectors) of one shard in doc id order: the order its FAISS index numbers them."""
    import pyarrow.parquet as pq

    table = pq.read_table(file)
    ids = np.asarray(table.column(S.DOC_ID).to_pylist(), dtype=object)
    order = np.argsort(ids, kind="stable")
    matrix = unit_rows(to_matrix(table.column(S.EMBEDDING), dim), metric)
    return ids[order], np.ascontiguousarray(matrix[order], dtype=np.float32)


def _new_index(faiss: Any, dim: int, factory: str, seed: int) -> Any:
    """An empty index of ``factory`` at ``dim`` with the seed set on its k-means (IVF lists, PQ codebooks)."""
    try:
        index = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as exc:
        raise _factory_error(factory, str(exc), f" for {dim}-dimensional vectors") from exc
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        ivf.cp.seed = seed
    for part in (index, ivf):
        if part is not None and hasattr(part, "pq"):
            part.pq.cp.seed = seed
    return index


def training_rows(faiss: Any, index: Any, count: int) -> int:
    """How many rows ``index`` trains on: 0 if it needs none, else ``max(39 * nlist, 256 * 2**nbits)``, at most
    ``count`` (FAISS's own advice: 39 points per centroid, 256 per PQ code word).

    >>> import faiss  # doctest: +SKIP
    >>> training_rows(faiss, faiss.index_factory(384, "IVF1024,PQ32"), 10**7)  # doctest: +SKIP
    65536
    """
    if index.is_trained:
        return 0
    need = 256
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        need = max(need, 39 * ivf.nlist)
    for part in (index, ivf):
        if part is not None and hasattr(part, "pq"):
            need = max(need, 256 * 2**part.pq.nbits)
    return min(count, need)


def training_sample(files: list[str], dim: int, metric: str, n: int, seed: int) -> tuple[list[str], np.ndarray]:
    """(doc ids, vectors) of the ``n`` rows whose seeded Daft hash of ``doc_id`` is smallest (ties: doc id), in
    that order: the same rows, in the same order, whatever the runner and the partitioning."""
    rows = daft.read_parquet(files).select(S.DOC_ID, S.EMBEDDING, col(S.DOC_ID).hash(seed=seed).alias("_hash"))
    table = rows.sort(["_hash", S.DOC_ID]).limit(n).to_arrow()
    matrix = unit_rows(to_matrix(table.column(S.EMBEDDING), dim), metric)
    return table.column(S.DOC_ID).to_pylist(), np.ascontiguousarray(matrix, dtype=np.float32)


def write_faiss_files(folder: str, shards: tuple[str, ...], meta: dict, factory: str, seed: int) -> dict:
    """Train once, then write ``faiss/<shard>.faiss`` per shard (``folder``-relative Parquet paths, rows
    ``doc_id, embedding``) into ``folder``; returns the fields for ``index.json``. ``meta``: ``dim, count, metric``."""
    faiss = import_faiss()
    dim, metric = meta["dim"], meta["metric"]
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)  # HNSW inserts in parallel otherwise: the graph would depend on thread timing
    try:
        template = _new_index(faiss, dim, factory, seed)
        n = training_rows(faiss, template, meta["count"])
        if n:
            template.train(training_sample([os.path.join(folder, s) for s in shards], dim, metric, n, seed)[1])
        os.mkdir(os.path.join(folder, "faiss"))
        files = []
        for shard in shards:
            index = faiss.clone_index(template)
            index.add(_shard_rows(os.path.join(folder, shard), dim, metric)[1])
            name = os.path.join("faiss", os.path.splitext(os.path.basename(shard))[0] + ".faiss")
            faiss.write_index(index, os.path.join(folder, name))
            files.append(name)
    finally:
        faiss.omp_set_num_threads(threads)
    return {"factory": factory, "faiss_files": files, "train_rows": n, "seed": seed}


def build_faiss_index(
    embedded: daft.DataFrame,
    path: str,
    factory: str,
    *,
    metric: str = "cosine",
    seed: int = 0,
    encoder: dict | None = None,
) -> FaissIndex:
    """Write ``doc_id, embedding`` rows as a vector index with a FAISS index of ``factory`` per shard (one atomic
    write: a failure leaves ``path`` as it was).

    >>> build_faiss_index(embedded, "data/index/demo-hnsw", "HNSW32")  # doctest: +SKIP
    """
    check_metric(metric)
    check_factory(factory)  # before any work

    def then(folder: str, shards: tuple[str, ...], meta: dict) -> dict:
        return write_faiss_files(folder, shards, meta, factory, seed)

    build_vector_index(embedded, path, metric=metric, encoder=encoder, then=then)
    return open_faiss_index(path)


def _load(file: str, faiss_file: str, dim: int, metric: str) -> tuple[np.ndarray, np.ndarray, Any]:
    """(doc ids, vectors, FAISS index) of one shard, loaded once per process and shared by every searcher."""

    def build() -> tuple[np.ndarray, np.ndarray, Any]:
        ids, matrix = _shard_rows(file, dim, metric)
        return ids, matrix, import_faiss().read_index(faiss_file)

    key = ("faiss-shard", os.path.abspath(faiss_file), os.path.getmtime(faiss_file), os.path.getmtime(file), metric)
    return load_once(key, build, files=[file, faiss_file])


def _search_parameters(faiss: Any, index: Any, options: FaissOptions) -> Any:
    """FAISS's per-search parameters (``nprobe`` for IVF, ``efSearch`` for HNSW; None for others): the shared
    index itself is never changed, so searchers with other options can share it."""
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        return faiss.SearchParametersIVF(nprobe=min(options.nprobe, ivf.nlist))
    if hasattr(index, "hnsw"):
        return faiss.SearchParametersHNSW(efSearch=options.ef_search)
    return None


@daft.cls(name_override="FaissSearcher")
class FaissSearcher:
    """Approximate top-k over one shard: FAISS candidates, scored exactly (float64, from the stored vectors).

    >>> searcher = FaissSearcher("idx/shards/0.parquet", "idx/faiss/0.faiss", 384, "cosine", 10, {})  # doctest: +SKIP
    >>> queries.select(searcher.top_k(daft.col(S.EMBEDDING)))  # doctest: +SKIP
    """

    def __init__(self, file: str, faiss_file: str, dim: int, metric: str, k: int, options: dict) -> None:
        self.ids, self.matrix, self.index = _load(file, faiss_file, dim, metric)
        self.options = FaissOptions.of(options)
        self.params = _search_parameters(import_faiss(), self.index, self.options)
        self.dim, self.metric, self.k = dim, metric, k
        self.progress = Progress(f"searching {len(self.ids):,} vectors by FAISS (queries)")

    @daft.method.batch(return_dtype=HIT, batch_size=1024)
    def top_k(self, vectors: daft.Series) -> list:
        queries = np.ascontiguousarray(unit_rows(to_matrix(vectors.to_arrow(), self.dim), self.metric))
        n = min(self.k * self.options.refine, len(self.ids))
        _, found = self.index.search(queries, n, params=self.params)
        out: list = []
        for q, rows in zip(queries.astype(np.float64), found):
            rows = rows[rows >= 0]
            # the exact searcher's arithmetic: einsum's own float64 loop, whatever the batch
            scores = np.einsum("d,nd->n", q, self.matrix[rows].astype(np.float64))
            kept = sorted(zip(scores.tolist(), self.ids[rows].tolist()), reverse=True)[: self.k]  # rank_run's order
            out.append([{S.DOC_ID: d, S.SCORE: s} for s, d in kept])
        self.progress.add(len(queries))
        return out
