"""Qdrant index (https://qdrant.tech): dense vectors or SPLADE's sparse vectors in a Qdrant collection, searched
through a Daft class and scored again exactly, so a run equals the exact search's wherever Qdrant finds the same
candidates (its embedded local mode searches exhaustively: it always does).

* Where: embedded local mode by default (``QdrantClient(path=<index dir>/qdrant)``: no server; its storage is one
  process's at a time), or a Qdrant server at ``url``. The collection is named from the index's fingerprint (the
  kind of vector, the encoder, and an order-free digest of every ``doc_id`` and vector), so the same corpus and
  model name the same collection on a server, which is then reused when it holds every point. On Ray (searchers in
  several processes) use a server: local mode's storage is locked by the first process that opens it.
* Build: the Parquet shards are written first (the exact index's for dense vectors, ``doc_id, term_ids, values``
  for sparse ones, with ``vocabulary.parquet``: term -> id in sorted term order, as the postings number terms),
  then streamed through Daft (``to_arrow_iter``) and upserted in batches of ``batch_size`` from the driver: one
  writer, because local mode's storage takes one process and a server gains nothing from racing writers here.
  Point ids are ``uuid5(doc_id)``; ``doc_id`` is the payload. Dense vectors are stored L2-normalised by us (cosine)
  with the DOT distance, so Qdrant keeps exactly our float32 values.
* Search: a :class:`QdrantSearcher` asks for ``refine * k`` candidates per query with their stored vectors and
  scores them as the exact searchers do: dense in float64 by einsum (:class:`~daft_retrieval.index.vector.
  VectorSearcher`), sparse as the sum over shared terms in term id order of float64 products
  (:class:`~daft_retrieval.index.impacts.ImpactSearcher`); ties then go by doc id (rank_run).

    >>> QdrantOptions.of({"url": "http://localhost:6333"}).url
    'http://localhost:6333'
    >>> point_id("doc-1")
    '0e3887a8-ea0b-5e9f-a361-5f6ddcc7c502'
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

import daft
import numpy as np
import pyarrow as pa

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError
from daft_retrieval.index.atomic import ShardedIndex, atomic_directory, check_index_dir, write_shards
from daft_retrieval.index.vector import HIT, build_vector_index, check_metric, to_matrix
from daft_retrieval.memo import forget, load_once, loaded
from daft_retrieval.progress import Progress
from daft_retrieval.score.unit import unit_rows

__all__ = [
    "QdrantIndex",
    "QdrantOptions",
    "QdrantSearcher",
    "build_qdrant_dense_index",
    "build_qdrant_sparse_index",
    "check_server",
    "close_clients",
    "collection_name",
    "fingerprint",
    "import_qdrant",
    "open_qdrant_index",
    "point_id",
    "upsert_shards",
]

DENSE, SPARSE = "dense", "sparse"  # the collection's vector names (and the index's ``vector`` kind)
TERM_IDS, VALUES = "term_ids", "values"  # a sparse shard's columns beside doc_id
VOCABULARY_FILE = "vocabulary.parquet"
STORAGE = "qdrant"  # local mode's folder inside the index directory
_NAMESPACE = uuid.UUID("6f1c3f0e-8a4e-4d0b-9d47-2f5a1f4c8b11")  # point ids: uuid5 of doc_id in this namespace


def import_qdrant() -> Any:
    """The ``qdrant_client`` module, or a :class:`DataError` naming the extra that installs it."""
    try:
        import qdrant_client
    except ImportError as exc:
        raise DataError(
            "index='qdrant' needs the Qdrant client, which is not installed: pip install 'daft-retrieval[qdrant]' "
            "(or pip install qdrant-client); index='exact' needs nothing more"
        ) from exc
    return qdrant_client


@dataclass(frozen=True)
class QdrantOptions:
    """``url``: a Qdrant server (None: embedded local mode in the index folder); ``refine``: candidates per query
    are ``refine * k``, scored exactly and cut to ``k``; ``batch_size``: points per upsert; ``timeout``: seconds
    per server request."""

    url: str | None = None
    refine: int = 2
    batch_size: int = 256
    timeout: int = 30

    def __post_init__(self) -> None:
        for name in ("refine", "batch_size", "timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise DataError(f"Qdrant option {name} must be an integer >= 1, not {value!r}")
        if self.url is not None and not (isinstance(self.url, str) and self.url.startswith(("http://", "https://"))):
            raise DataError(f"the Qdrant URL must start with http:// or https://, not {self.url!r}")

    @classmethod
    def of(cls, options: QdrantOptions | Mapping[str, Any] | None) -> QdrantOptions:
        """Options from a mapping (unknown keys are a :class:`DataError` naming the known ones)."""
        if isinstance(options, QdrantOptions):
            return options
        options = {k: v for k, v in dict(options or {}).items() if not (k == "url" and v is None)}
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise DataError(f"unknown Qdrant index option(s) {unknown}; the options are {known}")
        return cls(**options)

    def as_dict(self) -> dict:
        return asdict(self)


def point_id(doc_id: str) -> str:
    """The Qdrant point id of ``doc_id``: a UUID 5 (the same id for the same doc id, everywhere)."""
    return str(uuid.uuid5(_NAMESPACE, doc_id))


def _unreachable(url: str, exc: BaseException) -> DataError:
    why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return DataError(
        f"cannot reach the Qdrant server at {url} ({why}); start it (e.g. docker run -p 6333:6333 qdrant/qdrant) "
        "or leave out --qdrant-url (index_options url) to use Qdrant's embedded local mode"
    )


def _client(url: str | None, folder: str | None, timeout: int = 30) -> Any:
    """A client of the server at ``url`` (checked: it answers), else of the local storage ``folder``."""
    qdrant_client = import_qdrant()
    if url is None:
        return qdrant_client.QdrantClient(path=folder)
    client = qdrant_client.QdrantClient(url=url, timeout=timeout, check_compatibility=False)  # asked below
    try:
        client.get_collections()
    except Exception as exc:  # the client raises httpx / its own errors for a refused or failed connection
        client.close()
        raise _unreachable(url, exc) from None
    return client


def check_server(url: str | None, timeout: int = 30) -> None:
    """Refuse, before any work, a server URL that does not answer (nothing to check for local mode)."""
    if url is not None:
        _client(url, None, timeout).close()


@dataclass(frozen=True, kw_only=True)
class QdrantIndex(ShardedIndex):
    """What ``index.json`` records: the shards, the vector kind (``dense``/``sparse``; ``dim``: the vector size or
    the vocabulary size), the metric, the collection, the server (None: local mode in ``<path>/qdrant``)."""

    vector: str
    metric: str
    collection: str
    fingerprint: str
    url: str | None = None

    kind: ClassVar[str] = "Qdrant index"
    builder: ClassVar[str] = "dense_search(..., index='qdrant') or splade_search(..., index='qdrant')"
    marker: ClassVar[str] = "collection"
    not_one: ClassVar[str] = "is not a Qdrant index (no collection)"


def open_qdrant_index(path: str) -> QdrantIndex:
    """Read ``index.json`` of a Qdrant index directory; another kind of index is a :class:`DataError`."""
    return QdrantIndex.open(path)


def _rows(files: list[str]) -> Iterator[pa.RecordBatch]:
    """The shards' rows, streamed by Daft in record batches."""
    yield from daft.read_parquet(files).to_arrow_iter()


def _points(batch: pa.RecordBatch, vector: str, dim: int, metric: str) -> tuple[list[str], list]:
    """(doc ids, vectors) of a batch: unit float32 rows for cosine, (term ids, values) for sparse."""
    ids = batch.column(S.DOC_ID).to_pylist()
    if vector == SPARSE:  # each document's terms in term id order (list_agg's order depends on the partitioning)
        terms, values = batch.column(TERM_IDS).to_pylist(), batch.column(VALUES).to_pylist()
        pairs = (sorted(zip(t, v)) for t, v in zip(terms, values))
        return ids, [([t for t, _ in p], [v for _, v in p]) for p in pairs]
    matrix = unit_rows(to_matrix(batch.column(S.EMBEDDING), dim), metric)  # as the exact index (VectorSearcher)
    return ids, list(matrix)


def fingerprint(files: list[str], meta: Mapping[str, Any]) -> str:
    """16 hex digits of ``meta`` and an order-free digest (a sum of per-row BLAKE2 hashes) of every doc id and
    vector: the same for the same content, however Daft partitioned the shards."""
    total, modulus = 0, 1 << 128
    for batch in _rows(files):
        ids, vectors = _points(batch, meta["vector"], meta["dim"], meta["metric"])
        for doc_id, v in zip(ids, vectors):
            data = np.asarray(v, dtype=np.float32).tobytes() if meta["vector"] == DENSE else json.dumps(v).encode()
            row = hashlib.blake2b(doc_id.encode() + b"\0" + data, digest_size=16).digest()
            total = (total + int.from_bytes(row, "big")) % modulus
    body = json.dumps({**meta, "rows": f"{total:032x}"}, sort_keys=True).encode()
    return hashlib.sha256(body).hexdigest()[:16]


def collection_name(vector: str, digest: str) -> str:
    """``daft-retrieval-<dense|sparse>-<fingerprint>``."""
    return f"daft-retrieval-{vector}-{digest}"


def _create(client: Any, name: str, vector: str, dim: int) -> None:
    from qdrant_client import models

    if vector == DENSE:
        config = {DENSE: models.VectorParams(size=dim, distance=models.Distance.DOT)}
        client.create_collection(name, vectors_config=config)
    else:
        client.create_collection(name, vectors_config={}, sparse_vectors_config={SPARSE: models.SparseVectorParams()})


def _point(doc_id: str, vector: Any, kind: str) -> Any:
    from qdrant_client import models

    sparse = kind == SPARSE
    value = models.SparseVector(indices=list(vector[0]), values=list(vector[1])) if sparse else vector.tolist()
    return models.PointStruct(id=point_id(doc_id), vector={kind: value}, payload={S.DOC_ID: doc_id})


def upsert_shards(folder: str, shards: tuple[str, ...], meta: dict, options: QdrantOptions) -> dict:
    """Upsert the shards' rows (``folder``-relative) into the collection named by their fingerprint, in batches
    of ``options.batch_size``, from this process; returns the fields for ``index.json``. ``meta``: ``vector,
    dim, count, metric, encoder``. On a server, a collection that already holds ``count`` points is kept."""
    files = [os.path.join(folder, s) for s in shards]
    digest = fingerprint(files, {k: meta[k] for k in ("vector", "dim", "metric", "encoder")})
    name = collection_name(meta["vector"], digest)
    client = _client(options.url, os.path.join(folder, STORAGE), options.timeout)
    try:
        if client.collection_exists(name) and client.count(name, exact=True).count == meta["count"]:
            return {"vector": meta["vector"], "collection": name, "fingerprint": digest, "url": options.url}
        if client.collection_exists(name):  # a partial upload: start again
            client.delete_collection(name)
        _create(client, name, meta["vector"], meta["dim"])
        progress = Progress(f"upserting {meta['count']:,} {meta['vector']} vectors into Qdrant (points)")
        for batch in _rows(files):
            ids, vectors = _points(batch, meta["vector"], meta["dim"], meta["metric"])
            for start in range(0, len(ids), options.batch_size):
                part = zip(ids[start : start + options.batch_size], vectors[start : start + options.batch_size])
                client.upsert(name, points=[_point(d, v, meta["vector"]) for d, v in part], wait=True)
                progress.add(min(options.batch_size, len(ids) - start))
    finally:
        client.close()  # local mode: release the storage before the folder is swapped in
    return {"vector": meta["vector"], "collection": name, "fingerprint": digest, "url": options.url}


def build_qdrant_dense_index(
    embedded: daft.DataFrame,
    path: str,
    options: QdrantOptions | Mapping[str, Any] | None = None,
    *,
    metric: str = "cosine",
    encoder: dict | None = None,
) -> QdrantIndex:
    """Write ``doc_id, embedding`` rows as a vector index (its shards) and upsert them into Qdrant, in one atomic
    write of ``path`` (local mode's storage is inside it).

    >>> build_qdrant_dense_index(embedded, "data/index/demo-qdrant")  # doctest: +SKIP
    """
    check_metric(metric)
    settings = QdrantOptions.of(options)
    check_server(settings.url, settings.timeout)  # before any work

    def then(folder: str, shards: tuple[str, ...], meta: dict) -> dict:
        return upsert_shards(folder, shards, {**meta, "vector": DENSE}, settings)

    build_vector_index(embedded, path, metric=metric, encoder=encoder, then=then)
    return open_qdrant_index(path)


def build_qdrant_sparse_index(
    rows: daft.DataFrame,
    path: str,
    options: QdrantOptions | Mapping[str, Any] | None = None,
    *,
    encoder: dict | None = None,
) -> QdrantIndex:
    """Write ``doc_id, term, value`` rows (SPLADE's, :func:`~daft_retrieval.retrieve.splade.sparse_rows`; values
    summed per document and term, as the postings do) as sparse shards and ``vocabulary.parquet`` (term ids in
    sorted term order) and upsert them into Qdrant, in one atomic write of ``path``.

    >>> build_qdrant_sparse_index(sparse_rows(vectors, "doc_id"), "data/index/demo-splade-qdrant")  # doctest: +SKIP
    """
    import pyarrow.parquet as pq
    from daft import col

    from daft_retrieval.index.postings import TERM_ID, number
    from daft_retrieval.runner import persist

    settings = QdrantOptions.of(options)
    S.require_columns(rows, [S.DOC_ID, S.TERM, S.VALUE], "sparse rows")
    check_index_dir(path)
    check_server(settings.url, settings.timeout)  # before any work
    summed = persist(rows.groupby(S.DOC_ID, S.TERM).agg(col(S.VALUE).sum().alias(S.VALUE)))
    vocab = persist(number(summed.select(S.TERM).distinct(), S.TERM, TERM_ID).select(S.TERM, TERM_ID))
    lists = [col(TERM_ID).list_agg().alias(TERM_IDS), col(S.VALUE).list_agg().alias(VALUES)]
    vectors = persist(summed.join(vocab, on=S.TERM).groupby(S.DOC_ID).agg(*lists))
    count = vectors.count_rows()
    if count == 0:
        raise DataError("cannot index an empty corpus (no document has a term)")
    with atomic_directory(path, "Qdrant index") as tmp:
        meta = {"vector": SPARSE, "dim": vocab.count_rows(), "count": count, "metric": "dot", "encoder": encoder or {}}
        shards = write_shards(vectors, tmp, meta)
        pq.write_table(vocab.sort(TERM_ID).to_arrow(), os.path.join(tmp, VOCABULARY_FILE))
        extra = upsert_shards(tmp, shards, meta, settings)
        with open(os.path.join(tmp, S.INDEX_FILE), "w") as fh:
            json.dump({**meta, **extra, "shards": list(shards)}, fh, indent=1)
    return open_qdrant_index(path)


def _shared_client(path: str, url: str | None, timeout: int) -> tuple[Any, threading.Lock]:
    """One client per process and index (local mode's storage admits one), with a lock for its calls."""
    meta = os.path.join(path, S.INDEX_FILE)
    key = ("qdrant-client", os.path.abspath(path), os.path.getmtime(meta), url)
    storage = os.path.join(path, STORAGE)

    def open_client() -> tuple[Any, threading.Lock]:
        atexit.register(close_clients)  # closed before the interpreter tears down what closing needs
        return _client(url, storage, timeout), threading.Lock()

    return load_once(key, open_client, files=[meta])


def close_clients() -> None:
    """Close every Qdrant client this process holds (local mode: its storage can then be opened again)."""
    for key in loaded("qdrant-client"):
        held = load_once(key, lambda: None)
        if held is not None:
            client, lock = held
            with lock:
                client.close()
    forget("qdrant-client")


def _dense_scores(query: np.ndarray, points: list) -> list[tuple[float, str]]:
    """(score, doc id) of each candidate: the exact searcher's float64 einsum over the stored float32 vector."""
    if not points:
        return []
    stored = np.asarray([p.vector[DENSE] for p in points], dtype=np.float32).astype(np.float64)
    scores = np.einsum("d,nd->n", query, stored)
    return list(zip(scores.tolist(), [p.payload[S.DOC_ID] for p in points]))


def _sparse_scores(query: dict[int, float], points: list) -> list[tuple[float, str]]:
    """(score, doc id) of each candidate: the sum over shared terms, in term id order, of float64 products (the
    order SciPy's sparse product adds them in the exact search); only documents with a score above 0."""
    out = []
    for p in points:
        vector = p.vector[SPARSE]
        score = 0.0
        for term, value in sorted(zip(vector.indices, vector.values)):
            if term in query:
                score += query[term] * float(np.float32(value))
        if score > 0:
            out.append((score, p.payload[S.DOC_ID]))
    return out


@daft.cls(name_override="QdrantSearcher", use_process=False)
class QdrantSearcher:
    """Top ``k`` per query from a Qdrant index: ``refine * k`` candidates by Qdrant, scored exactly.

    >>> searcher = QdrantSearcher("data/index/demo-qdrant", "daft-retrieval-dense-...", None, 384, "cosine", 10)  # doctest: +SKIP
    >>> queries.select(searcher.top_k(daft.col(S.EMBEDDING)))  # doctest: +SKIP
    """  # noqa: E501

    def __init__(self, path: str, collection: str, url: str | None, dim: int, metric: str, k: int, options: dict):
        self.options = QdrantOptions.of(options)
        self.client, self.lock = _shared_client(path, url, self.options.timeout)
        self.collection, self.dim, self.metric, self.k = collection, dim, metric, k
        self.progress = Progress("searching Qdrant (queries)")

    def _query(self, queries: list, using: str) -> list:
        from qdrant_client import models

        limit = self.k * self.options.refine
        requests = [
            models.QueryRequest(query=q, using=using, limit=limit, with_vector=[using], with_payload=[S.DOC_ID])
            for q in queries
        ]
        with self.lock:
            found = self.client.query_batch_points(self.collection, requests=requests) if requests else []
        self.progress.add(len(queries))
        return [r.points for r in found]

    def _top(self, scored: list[tuple[float, str]]) -> list[dict]:
        kept = sorted(scored, reverse=True)[: self.k]  # rank_run's order: score, then doc id, descending
        return [{S.DOC_ID: d, S.SCORE: s} for s, d in kept]

    @daft.method.batch(return_dtype=HIT, batch_size=256)
    def top_k(self, vectors: daft.Series) -> list:
        queries = unit_rows(to_matrix(vectors.to_arrow(), self.dim), self.metric)
        found = self._query([q.tolist() for q in queries], DENSE)
        return [self._top(_dense_scores(q, p)) for q, p in zip(queries.astype(np.float64), found)]

    @daft.method.batch(return_dtype=HIT, batch_size=256)
    def top_k_sparse(self, term_ids: daft.Series, weights: daft.Series) -> list:
        from qdrant_client import models

        terms, values = term_ids.to_pylist(), weights.to_pylist()
        vectors = [models.SparseVector(indices=list(t), values=[float(v) for v in w]) for t, w in zip(terms, values)]
        found = self._query(vectors, SPARSE)
        queries = [dict(zip(t, (float(v) for v in w))) for t, w in zip(terms, values)]
        return [self._top(_sparse_scores(q, p)) for q, p in zip(queries, found)]
