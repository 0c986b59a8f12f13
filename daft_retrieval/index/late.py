"""Late-interaction index (the PLAID idea, Santhanam et al. 2022): token vectors per document, k-means centroids
over them, and MaxSim on the documents that the query's nearest centroids point to.

The index directory holds Parquet shards ``doc_id, tokens, codes`` (flat token vectors and each token's centroid),
``centroids.npy`` and ``index.json``. A :class:`LateSearcher` per shard loads it in ``__init__`` on the worker
and builds, per centroid, the documents holding a token of it. For a query with token vectors ``Q``:

1. each query token probes its ``nprobe`` nearest centroids; the union of their documents are the candidates;
2. if there are more than ``candidates``, they are cut by the centroid approximation
   sum_i max_{j in d} <q_i, c(j)> (a document's tokens replaced by their centroids);
3. exact MaxSim (:func:`daft_retrieval.score.maxsim.maxsim_many`) ranks the rest.

``nprobe=0`` is brute force: exact MaxSim against every document of the shard (the reference).

    >>> index = build_late_index(corpus, "data/index/demo-late", TokenConfig())  # doctest: +SKIP
    >>> run = late_search(index, queries, k=10)  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from typing import ClassVar

import daft
import numpy as np
import pyarrow as pa
from daft import DataType, col, lit

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError
from daft_retrieval.index.atomic import ShardedIndex, atomic_directory, check_index_dir, write_shards
from daft_retrieval.index.kmeans import assign, kmeans
from daft_retrieval.index.vector import HIT
from daft_retrieval.memo import load_once
from daft_retrieval.progress import Progress
from daft_retrieval.runner import persist
from daft_retrieval.score.maxsim import maxsim_many, unflatten

__all__ = ["LateIndex", "LateSearcher", "build_late_index", "open_late_index"]

CODES = "codes"


@dataclass(frozen=True, kw_only=True)
class LateIndex(ShardedIndex):
    """What ``index.json`` records: with the shards, the token vectors and the centroids they were coded by."""

    n_tokens: int
    n_centroids: int

    kind: ClassVar[str] = "late-interaction index"
    builder: ClassVar[str] = "build_late_index"


def default_centroids(n_tokens: int) -> int:
    """PLAID's choice: the power of two nearest below 16 x sqrt(number of token vectors)."""
    return int(2 ** np.floor(np.log2(max(2.0, 16 * np.sqrt(max(1, n_tokens))))))


@daft.func.batch(return_dtype=DataType.list(DataType.int32()))
def _codes(tokens: daft.Series, centroids: np.ndarray) -> pa.Array:
    matrix, starts = unflatten(tokens.to_arrow(), centroids.shape[1])
    return pa.ListArray.from_arrays(pa.array(starts, pa.int32()), pa.array(assign(matrix, centroids)))


def _sample_tokens(embedded: daft.DataFrame, dim: int, fraction: float, seed: int) -> np.ndarray:
    """The token vectors of about ``fraction`` of the documents, chosen by a hash of their ids and stacked in doc id
    order: the same sample, so the same centroids, whatever the runner and the partitioning (a per-partition
    random sample, or rows in arrival order, gave other centroids on Ray than on the native runner)."""
    rows = embedded.select(S.DOC_ID, S.TOKENS)
    table = None
    if fraction < 1:
        cut = lit(int(fraction * (2**64 - 1))).cast(DataType.uint64())
        table = rows.where(col(S.DOC_ID).hash(seed=seed) <= cut).to_arrow()
    if table is None or table.num_rows == 0:  # the whole corpus (or a tiny one the hash cut emptied)
        table = rows.to_arrow()
    return unflatten(table.sort_by(S.DOC_ID).column(S.TOKENS), dim)[0]


def build_late_index(
    embedded: daft.DataFrame,
    path: str,
    *,
    dim: int,
    n_centroids: int | None = None,
    sample_tokens: int = 262_144,
    seed: int = 0,
    encoder: dict | None = None,
) -> LateIndex:
    """Write ``doc_id, tokens`` rows (flat ``list<float32>`` token matrices of width ``dim``) as a late index.

    Centroids come from k-means over about ``sample_tokens`` token vectors of a sample of documents.
    """
    S.require_columns(embedded, [S.DOC_ID, S.TOKENS], "token-embedded corpus")
    check_index_dir(path)  # before the corpus is encoded
    embedded = persist(embedded.select(S.DOC_ID, S.TOKENS))
    count = embedded.count_rows()
    if count == 0:
        raise DataError("cannot index an empty corpus")
    lengths = embedded.select((col(S.TOKENS).length() // dim).alias("n")).sum("n").to_pydict()["n"][0]
    n_tokens = int(lengths or 0)
    n_centroids = n_centroids or default_centroids(n_tokens)
    centroids = kmeans(_sample_tokens(embedded, dim, sample_tokens / max(1, n_tokens), seed), n_centroids, seed=seed)
    with atomic_directory(path, "late-interaction index") as tmp:
        np.save(os.path.join(tmp, S.CENTROIDS_FILE), centroids)
        coded = embedded.with_column(CODES, _codes(col(S.TOKENS), centroids))
        meta = {"dim": dim, "count": count, "n_tokens": n_tokens, "n_centroids": len(centroids)}
        shards = write_shards(coded, tmp, {**meta, "encoder": encoder or {}})
    return LateIndex(path=path, shards=shards, **meta, encoder=encoder or {})


def open_late_index(path: str) -> LateIndex:
    """Read ``index.json`` of a late index directory."""
    return LateIndex.open(path)


class _Shard:
    """One shard in memory: token matrix, document starts, ids, and per centroid the documents holding it."""

    def __init__(self, file: str, centroids_file: str, dim: int) -> None:
        import pyarrow.parquet as pq

        table = pq.read_table(file)
        self.ids = np.asarray(table.column(S.DOC_ID).to_pylist(), dtype=object)
        self.tokens, self.starts = unflatten(table.column(S.TOKENS), dim)
        codes = table.column(CODES).combine_chunks().values.to_numpy(zero_copy_only=False).astype(np.int64)
        self.codes = codes
        self.centroids = np.load(centroids_file)
        doc_of_token = np.repeat(np.arange(len(self.ids)), np.diff(self.starts))
        pairs = np.unique(codes * len(self.ids) + doc_of_token)  # sorted by centroid, then doc
        self.cell_docs = (pairs % len(self.ids)).astype(np.int64)
        self.cell_starts = np.searchsorted(pairs // len(self.ids), np.arange(len(self.centroids) + 1))


def _load(file: str, centroids_file: str, dim: int) -> _Shard:
    """One shard, loaded once per process and shared by every searcher instance."""
    key = ("late-shard", os.path.abspath(file), os.path.getmtime(file), os.path.getmtime(centroids_file), dim)
    return load_once(key, lambda: _Shard(file, centroids_file, dim), files=[file, centroids_file])


@daft.cls(name_override="LateSearcher")
class LateSearcher:
    """Top ``k`` documents of one late-index shard per query (a flat token-matrix column)."""

    def __init__(self, file: str, centroids_file: str, dim: int, k: int, nprobe: int, candidates: int) -> None:
        self.shard = _load(file, centroids_file, dim)
        self.dim, self.k, self.nprobe, self.candidates = dim, k, nprobe, candidates
        self.progress = Progress(f"late-interaction search of {len(self.shard.ids):,} documents (queries)")

    def _candidates(self, query: np.ndarray) -> np.ndarray:
        s = self.shard
        n_docs = len(s.ids)
        if self.nprobe <= 0:
            return np.arange(n_docs)
        centroid_scores = query @ s.centroids.T
        nprobe = min(self.nprobe, centroid_scores.shape[1])
        probed = np.unique(np.argpartition(-centroid_scores, nprobe - 1, axis=1)[:, :nprobe])
        lengths = s.cell_starts[probed + 1] - s.cell_starts[probed]
        index = np.repeat(s.cell_starts[probed] - (np.cumsum(lengths) - lengths), lengths) + np.arange(lengths.sum())
        docs = np.unique(s.cell_docs[index])
        if len(docs) <= self.candidates:
            return docs
        # centroid approximation: every token replaced by its centroid
        starts, token_index = self._token_rows(docs)
        approx = np.maximum.reduceat(centroid_scores[:, s.codes[token_index]], starts[:-1], axis=1).sum(axis=0)
        keep = np.argpartition(-approx, self.candidates - 1)[: self.candidates]
        return np.sort(docs[keep])

    def _token_rows(self, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = self.shard
        lengths = s.starts[docs + 1] - s.starts[docs]
        starts = np.concatenate([[0], np.cumsum(lengths)])
        index = np.repeat(s.starts[docs] - starts[:-1], lengths) + np.arange(starts[-1])
        return starts, index

    @daft.method.batch(return_dtype=HIT, batch_size=256)
    def top_k(self, queries: daft.Series) -> list:
        matrix, starts = unflatten(queries.to_arrow(), self.dim)
        out = []
        for lo, hi in itertools.pairwise(starts):
            query = matrix[lo:hi]
            docs = self._candidates(query)
            docs = docs[np.diff(self.shard.starts)[docs] > 0]
            token_starts, token_index = self._token_rows(docs)
            scores = maxsim_many(query, self.shard.tokens[token_index], token_starts)
            k = min(self.k, len(docs))
            top = np.argpartition(-scores, k - 1)[:k] if 0 < k < len(docs) else np.arange(len(docs))
            out.append([{S.DOC_ID: d, S.SCORE: float(v)} for d, v in zip(self.shard.ids[docs[top]], scores[top])])
        self.progress.add(len(out))
        return out
