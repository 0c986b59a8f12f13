"""Paired significance tests over per-query values of two systems on the same queries: re-exported from
:mod:`daft_retrieval.statistics.paired`, where they live with the rest of the statistics (corrections, intervals,
effect sizes, randomised Tukey HSD).

    >>> a, b = [0.1, 0.2, 0.3, 0.4], [0.2, 0.3, 0.35, 0.5]
    >>> round(paired_t_test(a, b), 4), randomization_test(a, b, trials=1000) < 0.2
    (0.006, True)
"""

from __future__ import annotations

from daft_retrieval.statistics.paired import paired_t_test, randomization_test

__all__ = ["paired_t_test", "randomization_test"]
