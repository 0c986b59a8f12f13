"""Paired effect size and per-query wins, ties and losses of a system ``b`` over a baseline ``a``.

- Cohen's d_z (Cohen 1988; Lakens, "Calculating and reporting effect sizes to facilitate cumulative science",
  Frontiers in Psychology 4:863, 2013, eq. 6): d_z = mean(d) / sd(d), d = b - a, sd with ddof = 1. It is
  t / sqrt(n) of the paired t-test. Undefined (NaN) under 2 queries or when sd(d) = 0 exactly (differences
  equal only up to rounding, such as 0.3 - 0.1 and 0.4 - 0.2, give a tiny sd and a huge d_z, as t does).
- Wins, ties, losses: the number of queries where b > a, b == a (exactly equal floats: no tolerance, so two
  systems that score a query the same way tie there) and b < a.

    >>> round(cohens_dz([0.1, 0.2, 0.3, 0.4], [0.2, 0.3, 0.35, 0.5]), 4)
    3.5
    >>> wins_ties_losses([0.1, 0.5, 0.3], [0.2, 0.5, 0.0])
    (1, 1, 1)
"""

from __future__ import annotations

import math

from daft_retrieval.statistics._check import Values, differences

__all__ = ["cohens_dz", "wins_ties_losses"]


def cohens_dz(a: Values, b: Values) -> float:
    """Cohen's d_z = mean(b - a) / sd(b - a), sd with ddof = 1 (Lakens 2013, eq. 6); NaN under 2 queries or sd = 0.

    >>> cohens_dz([0.3], [0.5]), cohens_dz([0.0, 0.5], [0.5, 1.0])
    (nan, nan)
    """
    d = differences(a, b)
    if len(d) < 2:
        return math.nan
    sd = float(d.std(ddof=1))
    return float(d.mean()) / sd if sd > 0 else math.nan


def wins_ties_losses(a: Values, b: Values) -> tuple[int, int, int]:
    """(#queries b > a, #queries b == a exactly, #queries b < a).

    >>> wins_ties_losses([], [])
    (0, 0, 0)
    """
    d = differences(a, b)
    return int((d > 0).sum()), int((d == 0).sum()), int((d < 0).sum())
