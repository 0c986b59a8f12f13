"""Multiple-testing corrections of the p-values of one table's comparisons (one family).

With m p-values sorted ascending, p_(1) <= ... <= p_(m):

- Holm-Bonferroni (Holm, "A simple sequentially rejective multiple test procedure", Scand. J. Statist. 6(2),
  1979), controls the family-wise error rate: adj_(i) = min(1, max_{j <= i} (m - j + 1) * p_(j)).
- Benjamini-Hochberg (Benjamini & Hochberg, "Controlling the false discovery rate", J. R. Statist. Soc. B 57(1),
  1995), controls the false discovery rate: adj_(i) = min(1, min_{j >= i} m / j * p_(j)).
- ``none``: the p-values as they are.

These equal ``statsmodels.stats.multitest.multipletests(p, method="holm" / "fdr_bh")[1]`` (tests/test_statistics.py).

A NaN p-value (no test: fewer than 2 queries, or no difference at all) stays NaN and is not part of the family:
m counts the finite p-values only, as a comparison that was never tested cannot be a false discovery.

    >>> adjust_p_values([0.01, 0.04, 0.03, float("nan")], "holm").tolist()
    [0.03, 0.06, 0.06, nan]
    >>> [round(p, 4) for p in adjust_p_values([0.01, 0.04, 0.03], "bh").tolist()]
    [0.03, 0.04, 0.04]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from daft_retrieval import registry
from daft_retrieval.errors import DataError

__all__ = ["CORRECTIONS", "adjust_p_values"]

CORRECTIONS = tuple(registry.CORRECTIONS.names())  # ("holm", "bh", "none")


def adjust_p_values(p_values: Sequence[float] | np.ndarray, method: str = "holm") -> np.ndarray:
    """The adjusted p-values of one family, in the input's order: ``method`` is "holm", "bh" or "none".

    Holm: adj_(i) = min(1, max_{j<=i} (m-j+1) p_(j)) (Holm 1979). BH: adj_(i) = min(1, min_{j>=i} m/j p_(j))
    (Benjamini & Hochberg 1995). NaN stays NaN and does not count in m.

    >>> adjust_p_values([0.2, 0.01], "none").tolist(), adjust_p_values([], "holm").tolist()
    ([0.2, 0.01], [])
    """
    if method not in CORRECTIONS:
        raise DataError(f"correction must be one of {', '.join(CORRECTIONS)}, not {method!r}")
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise DataError(f"p-values must be one list of numbers, not an array of shape {p.shape}")
    tested = ~np.isnan(p)
    bad = np.flatnonzero(tested & ((p < 0) | (p > 1)))
    if len(bad):
        raise DataError(f"p-value {p[bad[0]]} at position {bad[0]} is not in [0, 1]: pass p-values (or NaN: no test)")
    out = p.copy()
    if method == "none" or not tested.any():
        return out
    where = np.flatnonzero(tested)
    order = where[np.argsort(p[where], kind="stable")]
    ranked = p[order]
    m = len(ranked)
    rank = np.arange(1, m + 1, dtype=np.float64)
    if method == "holm":
        adjusted = np.maximum.accumulate((m - rank + 1) * ranked)
    else:  # bh: the running minimum from the largest p down
        adjusted = np.minimum.accumulate((m / rank * ranked)[::-1])[::-1]
    out[order] = np.minimum(adjusted, 1.0)
    return out
