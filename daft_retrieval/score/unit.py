"""Unit-length rows: cosine similarity as a dot product.

Every vector searcher, index and codec normalises documents and queries with this one float32 arithmetic, so an
approximate index rescoring its candidates and the exact search give the same bits.

    >>> unit_rows(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
    [[0.6, 0.8], [0.0, 0.0]]
"""

from __future__ import annotations

import numpy as np

__all__ = ["unit_rows"]


def unit_rows(matrix: np.ndarray, metric: str = "cosine") -> np.ndarray:
    """Rows L2-normalised, x / ||x||_2 (a zero row stays zero), for ``metric="cosine"``; ``matrix`` unchanged for
    ``"dot"``."""
    if metric != "cosine":
        return matrix
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)
