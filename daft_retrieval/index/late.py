"""Late-interaction index (the PLAID idea, Santhanam et al. 2022): token vectors per document, k-means centroids
over them, and MaxSim on the documents that the query's nearest centroids point to.

The index directory holds Parquet shards, ``centroids.npy`` and ``index.json``. With ``nbits`` 2 or 4 (the default
4) a shard row is ``doc_id, codes, residuals``: each token's centroid and its residual to it, quantised to ``nbits``
bits per dimension and packed (ColBERTv2's residual compression, :mod:`daft_retrieval.index.residual`; the bucket
cutoffs and weights in ``residual_codec.npz``). ``nbits=0`` keeps ``doc_id, tokens, codes``: the fp32 token vectors
(4 x dim bytes a token against 4 + dim x nbits / 8), the uncompressed reference. A :class:`LateSearcher` per shard
loads it in ``__init__`` on the worker and builds, per centroid, the documents holding a token of it. For a query
with token vectors ``Q``:

1. each query token probes its ``nprobe`` nearest centroids; the union of their documents are the candidates;
2. if there are more than ``candidates``, they are cut by the centroid approximation
   sum_i max_{j in d} <q_i, c(j)> (a document's tokens replaced by their centroids);
3. exact MaxSim (:func:`daft_retrieval.score.maxsim.maxsim_many`) ranks the rest: on a compressed index over
   the candidates' token vectors decompressed (``normalize(centroid + bucket weights)``), as PLAID does.

``nprobe=0`` is brute force: MaxSim against every document of the shard (with ``nbits=0``: the exact reference).

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
from daft_retrieval.index.residual import NBITS, ResidualCodec, decompress
from daft_retrieval.index.vector import HIT
from daft_retrieval.memo import load_once
from daft_retrieval.progress import Progress
from daft_retrieval.runner import persist
from daft_retrieval.score.maxsim import maxsim_many, unflatten

__all__ = [
    "DEFAULT_NBITS",
    "LATE_NBITS",
    "LateIndex",
    "LateSearcher",
    "build_late_index",
    "check_nbits",
    "open_late_index",
]

CODES = "codes"
RESIDUALS = "residuals"  # a document's packed residuals, flat list<uint8> of n_tokens x dim * nbits / 8
LATE_NBITS = (0, *NBITS)  # 0: uncompressed fp32 token vectors
DEFAULT_NBITS = 4
BLOCK_TOKENS = 65_536  # token vectors scored at a time (65,536 x 384 fp32: 96 MiB)


@dataclass(frozen=True, kw_only=True)
class LateIndex(ShardedIndex):
    """What ``index.json`` records: with the shards, the token vectors and the centroids they were coded by."""

    n_tokens: int
    n_centroids: int
    nbits: int = 0  # an index written before compression has no nbits: its shards hold fp32 tokens
    codec: str | None = None  # the residual codec file (bucket cutoffs and weights), None when nbits is 0

    kind: ClassVar[str] = "late-interaction index"
    builder: ClassVar[str] = "build_late_index"


def check_nbits(nbits: object) -> int:
    """``nbits`` if it is one of :data:`LATE_NBITS` (0: uncompressed; 2, 4: bits per dimension of a residual),
    else a :class:`DataError` saying which values are allowed.

    >>> check_nbits(4)
    4
    >>> check_nbits(3)
    Traceback (most recent call last):
    ...
    daft_retrieval.errors.DataError: nbits must be 0 (uncompressed fp32 token vectors), 2 or 4 (bits per ...), not 3
    """
    if isinstance(nbits, bool) or nbits not in LATE_NBITS:
        raise DataError(
            "nbits must be 0 (uncompressed fp32 token vectors), 2 or 4 (bits per dimension of a token's residual), "
            f"not {nbits!r}"
        )
    return int(nbits)  # type: ignore[arg-type]


def default_centroids(n_tokens: int) -> int:
    """PLAID's choice: the power of two nearest below 16 x sqrt(number of token vectors)."""
    return int(2 ** np.floor(np.log2(max(2.0, 16 * np.sqrt(max(1, n_tokens))))))


@daft.func.batch(return_dtype=DataType.list(DataType.int32()))
def _codes(tokens: daft.Series, centroids: np.ndarray) -> pa.Array:
    matrix, starts = unflatten(tokens.to_arrow(), centroids.shape[1])
    return pa.ListArray.from_arrays(pa.array(starts, pa.int32()), pa.array(assign(matrix, centroids)))


CODED = DataType.struct({CODES: DataType.list(DataType.int32()), RESIDUALS: DataType.list(DataType.uint8())})


@daft.func.batch(return_dtype=CODED)
def _compress(tokens: daft.Series, centroids: np.ndarray, codec: ResidualCodec) -> pa.Array:
    """Each row's centroid ids and packed residuals (``v - c``, :meth:`ResidualCodec.encode`)."""
    matrix, starts = unflatten(tokens.to_arrow(), centroids.shape[1])
    codes = assign(matrix, centroids)
    packed = codec.encode(matrix - centroids[codes])
    width = packed.shape[1]
    return pa.StructArray.from_arrays(
        [
            pa.LargeListArray.from_arrays(pa.array(starts, pa.int64()), pa.array(codes)),
            pa.LargeListArray.from_arrays(pa.array(starts * width, pa.int64()), pa.array(packed.ravel())),
        ],
        names=[CODES, RESIDUALS],
    )


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


def _residuals(vectors: np.ndarray, centroids: np.ndarray, block: int = 65_536) -> np.ndarray:
    """``vectors - centroids[nearest]``, a block of rows at a time (no second full-size temporary)."""
    codes = assign(vectors, centroids)
    out = np.empty_like(vectors)
    for start in range(0, len(vectors), block):
        out[start : start + block] = vectors[start : start + block] - centroids[codes[start : start + block]]
    return out


def build_late_index(
    embedded: daft.DataFrame,
    path: str,
    *,
    dim: int,
    n_centroids: int | None = None,
    sample_tokens: int = 262_144,
    seed: int = 0,
    nbits: int = DEFAULT_NBITS,
    reread: bool = False,
    encoder: dict | None = None,
) -> LateIndex:
    """Write ``doc_id, tokens`` rows (flat ``list<float32>`` token matrices of width ``dim``) as a late index.

    Centroids come from k-means over about ``sample_tokens`` token vectors of a sample of documents (chosen by a
    hash of their ids); with ``nbits`` 2 or 4 the residual codec is trained on the same sample's residuals and the
    shards keep centroid ids and packed residuals, not the vectors (``nbits=0``: the fp32 vectors). ``reread``:
    ``embedded`` is cheap to compute again (read from the embedding cache or files), so it is read three times
    (count, sample, write) and never held whole; else it is computed once and held (``persist``).
    """
    nbits = check_nbits(nbits)
    S.require_columns(embedded, [S.DOC_ID, S.TOKENS], "token-embedded corpus")
    check_index_dir(path)  # before the corpus is encoded
    embedded = embedded.select(S.DOC_ID, S.TOKENS)
    if not reread:
        embedded = persist(embedded)
    sizes = embedded.agg(
        col(S.DOC_ID).count().alias("count"), (col(S.TOKENS).length() // dim).sum().alias("n")
    ).to_pydict()
    count, n_tokens = int(sizes["count"][0] or 0), int(sizes["n"][0] or 0)
    if count == 0:
        raise DataError("cannot index an empty corpus")
    n_centroids = n_centroids or default_centroids(n_tokens)
    sample = _sample_tokens(embedded, dim, sample_tokens / max(1, n_tokens), seed)
    centroids = kmeans(sample, n_centroids, seed=seed)
    codec = ResidualCodec.train(_residuals(sample, centroids), nbits) if nbits else None
    del sample
    with atomic_directory(path, "late-interaction index") as tmp:
        np.save(os.path.join(tmp, S.CENTROIDS_FILE), centroids)
        meta = {"dim": dim, "count": count, "n_tokens": n_tokens, "n_centroids": len(centroids), "nbits": nbits}
        if codec is None:
            coded = embedded.with_column(CODES, _codes(col(S.TOKENS), centroids))
            meta["codec"] = None
        else:
            coded = embedded.select(S.DOC_ID, _compress(col(S.TOKENS), centroids, codec).alias("_coded"))
            coded = coded.select(S.DOC_ID, col("_coded").unnest())
            meta["codec"] = codec.save(tmp)
        shards = write_shards(coded, tmp, {**meta, "encoder": encoder or {}})
    return LateIndex(path=path, shards=shards, **meta, encoder=encoder or {})


def open_late_index(path: str) -> LateIndex:
    """Read ``index.json`` of a late index directory."""
    return LateIndex.open(path)


def _flat(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(the values of a list column, concatenated in row order; row starts, ``rows + 1``: none for a null row)."""
    array = column.combine_chunks()
    offsets = np.asarray(array.offsets, dtype=np.int64)
    return array.values.to_numpy(zero_copy_only=False)[offsets[0] : offsets[-1]], offsets - offsets[0]


class _Shard:
    """One shard in memory: fp32 token matrix (``nbits=0``) or packed residuals, document starts, ids, centroid
    ids, and per centroid the documents holding it."""

    def __init__(self, file: str, centroids_file: str, dim: int, codec_file: str | None = None) -> None:
        import pyarrow.parquet as pq

        table = pq.read_table(file)
        self.ids = np.asarray(table.column(S.DOC_ID).to_pylist(), dtype=object)
        codes, self.starts = _flat(table.column(CODES))
        codes = codes.astype(np.int64)
        self.codec = None if codec_file is None else ResidualCodec.load(codec_file)
        if self.codec is None:
            self.tokens, _ = unflatten(table.column(S.TOKENS), dim)
        else:
            self.residuals = _flat(table.column(RESIDUALS))[0].reshape(len(codes), -1)
        del table
        self.codes = codes
        self.centroids = np.load(centroids_file)
        doc_of_token = np.repeat(np.arange(len(self.ids)), np.diff(self.starts))
        pairs = np.unique(codes * len(self.ids) + doc_of_token)  # sorted by centroid, then doc
        self.cell_docs = (pairs % len(self.ids)).astype(np.int64)
        self.cell_starts = np.searchsorted(pairs // len(self.ids), np.arange(len(self.centroids) + 1))

    def vectors(self, token_index: np.ndarray) -> np.ndarray:
        """The token vectors at ``token_index``: stored (``nbits=0``) or decompressed (centroid + residual)."""
        if self.codec is None:
            return self.tokens[token_index]
        return decompress(self.codec, self.centroids, self.codes[token_index], self.residuals[token_index])


def _load(file: str, centroids_file: str, dim: int, codec_file: str | None = None) -> _Shard:
    """One shard, loaded once per process and shared by every searcher instance."""
    files = [file, centroids_file] + ([codec_file] if codec_file else [])
    key = ("late-shard", *(os.path.abspath(f) for f in files), *(os.path.getmtime(f) for f in files), dim)
    return load_once(key, lambda: _Shard(file, centroids_file, dim, codec_file), files=files)


@daft.cls(name_override="LateSearcher")
class LateSearcher:
    """Top ``k`` documents of one late-index shard per query (a flat token-matrix column); ``codec_file``: the
    residual codec of a compressed index (None: the shard holds fp32 token vectors)."""

    def __init__(
        self,
        file: str,
        centroids_file: str,
        dim: int,
        k: int,
        nprobe: int,
        candidates: int,
        codec_file: str | None = None,
    ) -> None:
        self.shard = _load(file, centroids_file, dim, codec_file)
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

    def _scores(self, query: np.ndarray, docs: np.ndarray) -> np.ndarray:
        """MaxSim of ``query`` with each of ``docs``, in blocks of about :data:`BLOCK_TOKENS` token vectors (a
        block's vectors are decompressed, scored and dropped: memory stays bounded whatever ``candidates``)."""
        lengths = np.diff(self.shard.starts)[docs]
        block = np.cumsum(lengths) // BLOCK_TOKENS
        cuts = np.concatenate([[0], np.flatnonzero(np.diff(block)) + 1, [len(docs)]])
        scores = np.zeros(len(docs))
        for lo, hi in itertools.pairwise(cuts.tolist()):
            token_starts, token_index = self._token_rows(docs[lo:hi])
            scores[lo:hi] = maxsim_many(query, self.shard.vectors(token_index), token_starts)
        return scores

    @daft.method.batch(return_dtype=HIT, batch_size=256)
    def top_k(self, queries: daft.Series) -> list:
        matrix, starts = unflatten(queries.to_arrow(), self.dim)
        out = []
        for lo, hi in itertools.pairwise(starts):
            query = matrix[lo:hi]
            docs = self._candidates(query)
            docs = docs[np.diff(self.shard.starts)[docs] > 0]
            scores = self._scores(query, docs)
            k = min(self.k, len(docs))
            top = np.argpartition(-scores, k - 1)[:k] if 0 < k < len(docs) else np.arange(len(docs))
            out.append([{S.DOC_ID: d, S.SCORE: float(v)} for d, v in zip(self.shard.ids[docs[top]], scores[top])])
        self.progress.add(len(out))
        return out
