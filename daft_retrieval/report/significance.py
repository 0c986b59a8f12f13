"""Paired significance tests over per-query values of two systems on the same queries.

- paired t-test (Student): t = mean(d) / (sd(d) / sqrt(n)) with d = b - a, two-sided (SciPy's ``ttest_rel``);
- randomisation (permutation) test, two-sided: under the null each query's pair is exchangeable, so the sign of
  each d_i is flipped at random; p = (1 + #{|mean(d*)| >= |mean(d)|}) / (1 + trials) (Smucker, Allan & Carterette,
  CIKM 2007, recommend it for IR).

    >>> a, b = [0.1, 0.2, 0.3, 0.4], [0.2, 0.3, 0.35, 0.5]
    >>> round(paired_t_test(a, b), 4), randomization_test(a, b, trials=1000) < 0.2
    (0.006, True)
"""

from __future__ import annotations

import numpy as np

__all__ = ["paired_t_test", "randomization_test"]


def paired_t_test(a: list[float] | np.ndarray, b: list[float] | np.ndarray) -> float:
    """Two-sided p-value of the paired t-test of ``b`` against ``a`` (1.0 when every difference is 0)."""
    from scipy.stats import ttest_rel

    d = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    if len(d) < 2 or np.allclose(d, d[0]):
        return 1.0 if len(d) == 0 or d[0] == 0 else 0.0
    return float(ttest_rel(b, a).pvalue)


def randomization_test(
    a: list[float] | np.ndarray, b: list[float] | np.ndarray, *, trials: int = 10_000, seed: int = 0
) -> float:
    """Two-sided p-value of the paired randomisation test (random sign flips of the per-query differences)."""
    d = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    if len(d) == 0:
        return 1.0
    observed = abs(d.mean())
    rng = np.random.default_rng(seed)
    exceed = 0
    for start in range(0, trials, 1000):
        n = min(1000, trials - start)
        signs = rng.choice(np.array([-1.0, 1.0]), size=(n, len(d)))
        exceed += int((np.abs((signs * d).mean(axis=1)) >= observed - 1e-12).sum())
    return (1 + exceed) / (1 + trials)
