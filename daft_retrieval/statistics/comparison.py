"""One system against a baseline on one measure, all statistics at once, and the correction over a table.

:func:`paired_comparison` computes a :class:`PairedComparison` (the fields of a test in ``compare --json``):
difference = mean(b) - mean(a) (the difference of the table's means), the paired t-test and randomisation-test
p-values (:mod:`.paired`), a 95% confidence interval of the mean difference (:mod:`.interval`: t-based by default,
or the paired bootstrap), Cohen's d_z and wins / ties / losses (:mod:`.effect`). ``p_corrected`` is filled in by
:func:`correct` over all the comparisons of one table (one family: Holm 1979 by default, or Benjamini-Hochberg
1995, :mod:`.correction`), applied to the t-test p-values; until then it is NaN and ``correction`` is "none".

NaN (no statistic: fewer than 2 queries, no variance) stays a float NaN in the record and in :meth:`to_dict`;
it becomes ``null`` only when a report is written as JSON (``daft_retrieval.report.compare``'s ``to_json``).

    >>> rows = [paired_comparison([0.1, 0.2, 0.3, 0.4], [0.2, 0.3, 0.35, 0.5], system="s", baseline="b",
    ...                           measure=m, trials=999) for m in ("nDCG@10", "R@100")]
    >>> [round(r.p_corrected, 4) for r in correct(rows, "holm")], rows[0].wins, rows[0].correction
    ([0.012, 0.012], 4, 'none')
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

from daft_retrieval.errors import DataError
from daft_retrieval.statistics._check import Values, differences, vector
from daft_retrieval.statistics.correction import CORRECTIONS, adjust_p_values
from daft_retrieval.statistics.effect import cohens_dz, wins_ties_losses
from daft_retrieval.statistics.interval import bootstrap_interval, t_interval
from daft_retrieval.statistics.paired import paired_t_test, randomization_test

__all__ = ["INTERVALS", "PairedComparison", "correct", "paired_comparison"]

INTERVALS = ("t", "bootstrap")


@dataclass(frozen=True)
class PairedComparison:
    """A system against a baseline on one measure; the fields (in this order) of a test in ``compare --json``."""

    system: str
    baseline: str
    measure: str
    difference: float
    p_t_test: float
    p_randomization: float
    p_corrected: float
    correction: str
    ci_low: float
    ci_high: float
    effect_size: float
    wins: int
    ties: int
    losses: int

    def to_dict(self) -> dict:
        """The fields as a dict, in order; NaN stays NaN (JSON writers turn it into null)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def paired_comparison(
    baseline_values: Values,
    system_values: Values,
    *,
    system: str,
    baseline: str,
    measure: str,
    trials: int = 10_000,
    seed: int = 0,
    interval: str = "t",
    confidence: float = 0.95,
    resamples: int = 10_000,
) -> PairedComparison:
    """Every paired statistic of ``system_values`` (b) against ``baseline_values`` (a), query by query.

    d = b - a; difference = mean(b) - mean(a); p_t_test: Student's paired t-test; p_randomization: sign-flip test
    with ``trials`` and ``seed`` (Smucker et al. 2007); ci_low, ci_high: ``interval`` "t" (Student) or
    "bootstrap" (percentile, ``resamples``, ``seed``) at ``confidence``; effect_size: d_z = mean(d) / sd(d)
    (Lakens 2013); wins / ties / losses: b > a, b == a exactly, b < a. p_corrected: NaN until :func:`correct`.

    >>> r = paired_comparison([0.5], [0.7], system="s", baseline="b", measure="RR")
    >>> r.difference == 0.7 - 0.5, r.p_t_test, r.ci_low, r.wins
    (True, nan, nan, 1)
    """
    if interval not in INTERVALS:
        raise DataError(f"interval must be one of {', '.join(INTERVALS)}, not {interval!r}")
    d = differences(baseline_values, system_values)  # checks both
    a, b = vector(baseline_values), vector(system_values)
    if interval == "t":
        low, high = t_interval(a, b, confidence=confidence)
    else:
        low, high = bootstrap_interval(a, b, confidence=confidence, resamples=resamples, seed=seed)
    wins, ties, losses = wins_ties_losses(a, b)
    return PairedComparison(
        system=str(system),
        baseline=str(baseline),
        measure=str(measure),
        difference=float(b.mean() - a.mean()) if len(d) else math.nan,
        p_t_test=paired_t_test(a, b),
        p_randomization=randomization_test(a, b, trials=trials, seed=seed),
        p_corrected=math.nan,
        correction="none",
        ci_low=low,
        ci_high=high,
        effect_size=cohens_dz(a, b),
        wins=wins,
        ties=ties,
        losses=losses,
    )


def correct(
    comparisons: Sequence[PairedComparison], correction: str = "holm", *, on: str = "p_t_test"
) -> list[PairedComparison]:
    """The comparisons of one table (one family), in order, with ``p_corrected`` = the ``correction`` ("holm",
    "bh" or "none") of their ``on`` p-values ("p_t_test" or "p_randomization") and ``correction`` set.

    A comparison without a p-value (NaN) keeps p_corrected NaN and is left out of the family (m counts the
    others). See :func:`daft_retrieval.statistics.correction.adjust_p_values`.

    >>> correct([], "bh")
    []
    """
    if correction not in CORRECTIONS:
        raise DataError(f"correction must be one of {', '.join(CORRECTIONS)}, not {correction!r}")
    if on not in ("p_t_test", "p_randomization"):
        raise DataError(f"on must be 'p_t_test' or 'p_randomization', not {on!r}")
    rows = list(comparisons)
    for row in rows:
        if not isinstance(row, PairedComparison):
            raise DataError(
                f"correct takes PairedComparison records (from paired_comparison), not {type(row).__name__}"
            )
    adjusted = adjust_p_values([getattr(row, on) for row in rows], correction)
    return [dataclasses.replace(row, p_corrected=float(p), correction=correction) for row, p in zip(rows, adjusted)]
