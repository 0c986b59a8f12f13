"""MaxSim, the late-interaction score (ColBERT; Khattab & Zaharia, SIGIR 2020).

score(q, d) = sum over query tokens i of max over document tokens j of <q_i, d_j>, with unit-length token vectors.

    >>> q = np.array([[1.0, 0.0], [0.0, 1.0]]); d = np.array([[0.6, 0.8], [1.0, 0.0]])
    >>> float(maxsim(q, d))
    1.8
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["maxsim", "maxsim_many", "unflatten"]


def maxsim(query: np.ndarray, document: np.ndarray) -> float:
    """MaxSim of one query (``n_q x dim``) and one document (``n_d x dim``); 0 for an empty side."""
    if len(query) == 0 or len(document) == 0:
        return 0.0
    return float((query @ document.T).max(axis=1).sum())


def maxsim_many(query: np.ndarray, tokens: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """MaxSim of one query against many documents whose tokens are rows ``starts[i]:starts[i + 1]`` of ``tokens``.

    One matrix product for all documents, then a per-document max (``np.maximum.reduceat``) and a sum over query
    tokens: no Python loop over documents. Documents without tokens score 0.
    """
    n_docs = len(starts) - 1
    scores = np.zeros(n_docs)
    if len(query) == 0 or n_docs == 0 or len(tokens) == 0:
        return scores
    tokens = tokens[: starts[-1]]
    lengths = np.diff(starts)
    nonempty = lengths > 0
    similarity = query @ tokens.T  # n_q x n_tokens
    best = np.maximum.reduceat(similarity, starts[:-1][nonempty], axis=1)  # n_q x nonempty docs
    scores[nonempty] = best.sum(axis=0)
    return scores


def unflatten(column: pa.ChunkedArray | pa.Array, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(every row's token vectors stacked, ``n x dim``; row starts, ``rows + 1``) of a column of flat token
    matrices: row i's tokens are ``matrix[starts[i]:starts[i + 1]]`` (none for a null row). No copy for float32.

    >>> matrix, starts = unflatten(pa.array([[1.0, 0.0, 0.0, 1.0], [0.6, 0.8]], pa.list_(pa.float32())), 2)
    >>> matrix.shape, starts.tolist()
    ((3, 2), [0, 2, 3])
    """
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    offsets = np.asarray(array.offsets, dtype=np.int64)
    values = array.values.to_numpy(zero_copy_only=False)[offsets[0] : offsets[-1]]
    return values.astype(np.float32, copy=False).reshape(-1, dim), (offsets - offsets[0]) // dim
