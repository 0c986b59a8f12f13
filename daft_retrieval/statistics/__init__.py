"""Statistics for paired comparisons of IR systems over per-query values (one module per concept).

- :mod:`.paired`: paired t-test, seeded randomisation test;
- :mod:`.correction`: Holm-Bonferroni, Benjamini-Hochberg, none;
- :mod:`.interval`: t-based and paired-bootstrap confidence intervals of the mean difference;
- :mod:`.effect`: Cohen's d_z, wins / ties / losses;
- :mod:`.tukey`: randomised Tukey HSD over all pairs of systems;
- :mod:`.comparison`: all of them for one system against a baseline, as a frozen record, and the correction over
  a table.

Each is tested against SciPy / statsmodels or a brute-force reference in ``tests/test_statistics.py``.

    >>> from daft_retrieval.statistics import paired_comparison
    >>> paired_comparison([0.2, 0.4, 0.1], [0.3, 0.4, 0.3], system="s", baseline="b", measure="RR").ties
    1
"""

from __future__ import annotations

from daft_retrieval.statistics.comparison import INTERVALS, PairedComparison, correct, paired_comparison
from daft_retrieval.statistics.correction import CORRECTIONS, adjust_p_values
from daft_retrieval.statistics.effect import cohens_dz, wins_ties_losses
from daft_retrieval.statistics.interval import bootstrap_interval, t_interval
from daft_retrieval.statistics.paired import paired_t_test, randomization_test
from daft_retrieval.statistics.tukey import randomized_tukey_hsd

__all__ = [
    "CORRECTIONS",
    "INTERVALS",
    "PairedComparison",
    "adjust_p_values",
    "bootstrap_interval",
    "cohens_dz",
    "correct",
    "paired_comparison",
    "paired_t_test",
    "randomization_test",
    "randomized_tukey_hsd",
    "t_interval",
    "wins_ties_losses",
]
