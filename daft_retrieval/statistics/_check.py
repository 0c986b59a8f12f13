"""Input checks shared by the statistics modules: per-query values as finite float64 vectors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from daft_retrieval.errors import DataError

__all__ = ["differences", "vector"]

Values = Sequence[float] | np.ndarray


def vector(values: Values, what: str = "per-query values") -> np.ndarray:
    """``values`` as a 1-D float64 array; a DataError names the shape or the non-finite value and the fix."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise DataError(f"{what} must be one list of numbers (one per query), not an array of shape {x.shape}")
    bad = np.flatnonzero(~np.isfinite(x))
    if len(bad):
        raise DataError(
            f"{what} hold {x[bad[0]]} at position {bad[0]}: every per-query value must be a finite number "
            "(score a query a system misses as 0)"
        )
    return x


def differences(a: Values, b: Values) -> np.ndarray:
    """``b - a`` per query, after checking that ``a`` and ``b`` pair up (one length, finite values)."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise DataError(f"a paired test needs two lists of per-query values of one length, not {x.shape} and {y.shape}")
    return vector(y, "the system's per-query values") - vector(x, "the baseline's per-query values")
