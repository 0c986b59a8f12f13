"""Spherical k-means (Lloyd's iterations on unit vectors, assignment by dot product), for centroid pruning.

>>> rng = np.random.default_rng(0)
>>> x = np.concatenate([rng.normal(5, 0.1, (50, 2)), rng.normal(-5, 0.1, (50, 2))]).astype(np.float32)
>>> centroids = kmeans(x, 2, seed=0)
>>> sorted(np.sign(centroids[:, 0]).tolist())
[-1.0, 1.0]
"""

from __future__ import annotations

import numpy as np

from daft_retrieval.score.unit import unit_rows

__all__ = ["BLOCK_CELLS", "assign", "kmeans"]

BLOCK_CELLS = 1 << 25  # vector x centroid similarities computed at a time (float32: 128 MiB)


def _unit(x: np.ndarray) -> np.ndarray:
    return unit_rows(x)


def assign(vectors: np.ndarray, centroids: np.ndarray, block: int | None = None) -> np.ndarray:
    """Index of the nearest centroid (largest dot product) of each vector, in blocks of ``block`` rows (default:
    as many as keep a block's similarity matrix at :data:`BLOCK_CELLS` values, 128 MiB: 2,048 rows against 16,384
    centroids, where 65,536 rows took 4 GiB)."""
    out = np.empty(len(vectors), dtype=np.int32)
    block = block or max(1, BLOCK_CELLS // max(1, len(centroids)))
    for start in range(0, len(vectors), block):
        out[start : start + block] = np.argmax(vectors[start : start + block] @ centroids.T, axis=1)
    return out


def kmeans(vectors: np.ndarray, k: int, *, iterations: int = 10, seed: int = 0) -> np.ndarray:
    """``k`` unit-length centroids of ``vectors`` (``n x dim``); initialised on ``k`` distinct random vectors.

    An empty cluster is re-seeded on the vector farthest from its centroid.
    """
    from scipy.sparse import csr_matrix

    x = _unit(np.asarray(vectors, dtype=np.float32))
    k = max(1, min(k, len(x)))
    rng = np.random.default_rng(seed)
    centroids = x[rng.choice(len(x), size=k, replace=False)].copy()
    for _ in range(iterations):
        codes = assign(x, centroids)
        members = csr_matrix((np.ones(len(x), np.float32), (codes, np.arange(len(x)))), shape=(k, len(x)))
        sums = np.asarray(members @ x)
        counts = np.bincount(codes, minlength=k)
        empty = np.flatnonzero(counts == 0)
        if len(empty):
            similarity = np.einsum("ij,ij->i", x, centroids[codes])
            sums[empty] = x[np.argsort(similarity)[: len(empty)]]
        centroids = _unit(sums)
    return centroids
