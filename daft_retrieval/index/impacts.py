"""Term-at-a-time scoring of postings in a Daft class: the fast path of BM25 and SPLADE search.

:class:`Impacts` packs postings (``term_id, doc, weight`` sorted by term) into three arrays, CSC style:
``offsets[t] : offsets[t + 1]`` are term ``t``'s postings in ``docs`` / ``weights``. :class:`ImpactSearcher` is a
``@daft.cls`` whose batch method takes each query's term ids and weights (two list columns) and returns its top
``k`` as ``list<struct{doc, score}>``, with score(q, d) = sum over t of w_q(t) x w_d(t). A block of queries is
scored at once: each query's terms' postings are added, term at a time in term id order, into its row of a
block x documents float64 matrix (:func:`accumulate`: the sums of SciPy's sparse product, bit for bit, without
its copies of the postings and of the product), and the top ``k`` per row cut by score, then document number
descending (trec_eval's tie order). Only documents that match a query term are returned, as in the relational
path (:func:`~daft_retrieval.retrieve.postings.search_postings`, ``method="join"``).

    >>> searcher = ImpactSearcher("data/index/scifact-bm25", "weight", k=10)  # doctest: +SKIP
    >>> queries.select(searcher.top_k(col("term_ids"), col("weights")))  # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import NamedTuple

import daft
import numpy as np
import pyarrow as pa
from daft import DataType

from daft_retrieval import schema as S
from daft_retrieval.index.postings import DOC, TERM_ID
from daft_retrieval.memo import load_once
from daft_retrieval.progress import Progress
from daft_retrieval.schema import WEIGHT

__all__ = ["DOC_HITS", "ImpactSearcher", "Impacts", "accumulate", "top_k_rows"]

DOC_HITS = DataType.list(DataType.struct({DOC: DataType.int64(), S.SCORE: DataType.float64()}))
_BLOCK_CELLS = 1 << 22  # score-matrix cells per query block (~32 MB of float64)


class Impacts(NamedTuple):
    """Postings as arrays: ``offsets`` (int64, vocabulary size + 1), ``docs`` (int32), ``weights`` (float32).

    ``docs`` are numbered from ``first_doc`` (a shard holds documents ``first_doc .. first_doc + n_docs - 1``).
    """

    offsets: np.ndarray
    docs: np.ndarray
    weights: np.ndarray
    n_docs: int
    first_doc: int = 0

    @classmethod
    def read(cls, path: str, weight: str, docs: tuple[int, int] | None = None) -> Impacts:
        """Pack the postings of the index directory ``path`` (its ``weight`` column; documents in ``[lo, hi)``).

        A counting sort by term, streamed over the Parquet batches: one pass counts each term's postings, a
        second drops each batch's postings in their terms' slots, so only the packed arrays are ever whole
        (within a term, documents keep arrival order: the scores do not depend on it).
        """
        import pyarrow.dataset as pds
        import pyarrow.parquet as pq

        def rows(name: str) -> int:
            return sum(pq.ParquetFile(f).metadata.num_rows for f in pds.dataset(os.path.join(path, name)).files)

        dataset = pds.dataset(os.path.join(path, "postings"), format="parquet")
        lo, hi = docs if docs is not None else (0, rows("documents"))
        n_terms = rows("vocabulary")
        where = (pds.field(DOC) >= lo) & (pds.field(DOC) < hi)
        counts = np.zeros(n_terms, dtype=np.int64)
        for batch in dataset.to_batches(columns=[TERM_ID], filter=where):
            counts += np.bincount(batch.column(0).to_numpy(), minlength=n_terms)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        local, weights = np.empty(offsets[-1], dtype=np.int32), np.empty(offsets[-1], dtype=np.float32)
        cursor = offsets[:-1].copy()
        for batch in dataset.to_batches(columns=[TERM_ID, DOC, weight], filter=where):
            terms = batch.column(0).to_numpy()
            order = np.argsort(terms, kind="stable")
            terms = terms[order]
            starts = np.flatnonzero(np.concatenate([[True], terms[1:] != terms[:-1]]))
            sizes = np.diff(np.concatenate([starts, [len(terms)]]))
            slots = cursor[terms] + np.arange(len(terms)) - np.repeat(starts, sizes)
            local[slots] = batch.column(1).to_numpy()[order] - lo
            weights[slots] = batch.column(2).to_numpy()[order]
            cursor[terms[starts]] += sizes
        return cls(offsets, local, weights, int(hi - lo), int(lo))


def _load(path: str, weight: str, docs: tuple[int, int] | None) -> Impacts:
    """:meth:`Impacts.read`, once per process and shard, shared by every searcher instance (like vector shards)."""
    key = ("impacts", os.path.abspath(path), os.path.getmtime(path), weight, docs)
    return load_once(key, lambda: Impacts.read(path, weight, docs), files=[path])


def top_k_rows(scores: np.ndarray, k: int, floor: float = -np.inf) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, column, score) of the top ``k`` entries above ``floor`` in each row, ordered by row, score desc,
    column desc.

    Exact under ties: every entry tied with the k-th largest is a candidate, and ties go to the larger column.
    The k-th largest is found in float32 (half the memory traffic); rounding to float32 keeps order (a >= b gives
    f32(a) >= f32(b)), so the float32 candidates hold the exact top k, which is then cut on the float64 scores.
    (With ``floor=0``, a positive score under 1.4e-45, which rounds to 0 in float32, is taken for unmatched.)

    >>> top_k_rows(np.array([[1.0, 3.0, 3.0, -np.inf]]), 2)[1].tolist()
    [2, 1]
    """
    n_rows, n_cols = scores.shape
    coarse = scores.astype(np.float32)
    if k < n_cols:
        threshold = np.partition(coarse, n_cols - k, axis=1)[:, n_cols - k]
    else:
        threshold = np.full(n_rows, -np.inf, dtype=np.float32)
    lowest = np.nextafter(np.float32(floor), np.float32(np.inf))  # the least float32 above floor
    rows, cols = np.nonzero(coarse >= np.maximum(threshold, lowest)[:, None])
    values = scores[rows, cols]
    above = values > floor
    rows, cols, values = rows[above], cols[above], values[above]
    order = np.lexsort((-cols, -values, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    position = np.arange(len(rows)) - np.searchsorted(rows, rows, side="left")
    keep = position < k
    return rows[keep], cols[keep], values[keep]


@daft.cls(name_override="ImpactSearcher")
class ImpactSearcher:
    """Top ``k`` documents per query over one shard (documents ``docs = (lo, hi)``, default all) of the postings
    in the index directory ``path``, loaded in ``__init__`` on the worker; queries are two list columns (term ids,
    weights). Blocks of a batch are scored on ``threads`` threads (default: every core).
    """

    def __init__(
        self, path: str, weight: str, k: int, docs: tuple[int, int] | None = None, threads: int | None = None
    ) -> None:
        self.impacts = _load(path, weight, docs)
        self.k, self.n_docs, self.first_doc = k, self.impacts.n_docs, self.impacts.first_doc
        self.threads = threads or os.cpu_count() or 1
        self.n_terms = len(self.impacts.offsets) - 1
        self.block = max(1, _BLOCK_CELLS // max(1, self.n_docs))
        # all weights > 0: a document matches a query exactly when its score is > 0
        weights = self.impacts.weights
        self.positive = bool(len(weights) == 0 or weights.min() > 0)
        what = "BM25" if weight == WEIGHT else "sparse"
        self.progress = Progress(f"searching {self.n_docs:,} documents' {what} postings (queries)")

    @daft.method.batch(return_dtype=DOC_HITS, batch_size=4096)
    def top_k(self, term_ids: daft.Series, weights: daft.Series) -> daft.Series:
        terms, query_weights = _lists(term_ids), _lists(weights)
        n_queries = len(terms)
        offsets = np.asarray(terms.offsets, dtype=np.int64)
        offsets = offsets - offsets[0]
        flat_terms = terms.flatten().to_numpy(zero_copy_only=False).astype(np.int64)
        flat_weights = query_weights.flatten().to_numpy(zero_copy_only=False).astype(np.float64)
        if len(flat_terms) and (flat_terms.min() < 0 or flat_terms.max() >= self.n_terms):
            raise ValueError(f"term ids must lie in [0, {self.n_terms}): the query was not mapped to this index")
        # a query's terms are added in term id order, on every run
        order = np.lexsort((flat_terms, np.repeat(np.arange(n_queries), np.diff(offsets))))
        flat_terms, flat_weights = flat_terms[order], flat_weights[order]
        positive = self.positive and bool((flat_weights > 0).all())
        blocks = [
            (flat_terms, flat_weights, offsets[start : start + self.block + 1], start, positive)
            for start in range(0, n_queries, self.block)
        ]
        if len(blocks) > 1 and self.threads > 1:  # NumPy releases the GIL in these loops
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(min(self.threads, len(blocks))) as pool:
                parts = list(pool.map(lambda block: self._block(*block), blocks))
        else:
            parts = [self._block(*block) for block in blocks]
        rows, docs, scores = (np.concatenate(p) for p in zip(*parts)) if parts else (np.zeros(0, np.int64),) * 3
        self.progress.add(n_queries)
        hits = pa.StructArray.from_arrays(
            [pa.array(docs, pa.int64()), pa.array(scores, pa.float64())], names=[DOC, S.SCORE]
        )
        list_offsets = pa.array(np.searchsorted(rows, np.arange(n_queries + 1)), pa.int32())
        return daft.Series.from_arrow(pa.ListArray.from_arrays(list_offsets, hits))

    def _block(
        self, terms: np.ndarray, weights: np.ndarray, offsets: np.ndarray, start: int, positive: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        scores = accumulate(self.impacts, terms, weights, offsets)
        if positive:  # unmatched documents are the zeros
            rows, cols, values = top_k_rows(scores, min(self.k, self.n_docs), floor=0.0)
        else:  # negative weights (e.g. Robertson idf): a zero sum is unmatched too, as in a sparse product
            scores[scores == 0] = -np.inf
            rows, cols, values = top_k_rows(scores, min(self.k, self.n_docs))
        return rows + start, cols + self.first_doc, values


def accumulate(impacts: Impacts, terms: np.ndarray, weights: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Scores (queries ``offsets[i] : offsets[i + 1]`` of ``terms`` / ``weights`` x documents), float64, term at a
    time: score(q, d) = sum over q's terms t, in the order given, of w_q(t) x w_d(t), each product rounded to
    float64 then added (the arithmetic of SciPy's sparse product, to the bit: see tests/test_impacts.py).

    >>> imp = Impacts(np.array([0, 2, 3]), np.array([0, 1, 1], np.int32), np.array([1, 2, 3], np.float32), 2)
    >>> accumulate(imp, np.array([0, 1]), np.array([1.0, 0.5]), np.array([0, 2])).tolist()
    [[1.0, 3.5]]
    """
    scores = np.zeros((len(offsets) - 1, impacts.n_docs))
    for row in range(len(offsets) - 1):
        line = scores[row]
        for i in range(offsets[row], offsets[row + 1]):
            lo, hi = impacts.offsets[terms[i]], impacts.offsets[terms[i] + 1]
            if hi > lo:
                docs = impacts.docs[lo:hi]
                line[docs] += np.multiply(impacts.weights[lo:hi], weights[i], dtype=np.float64)
    return scores


def _lists(series: daft.Series) -> pa.ListArray:
    array = series.to_arrow()
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    return array.cast(pa.large_list(array.type.value_type)) if pa.types.is_list(array.type) else array
