"""Measures: parse ``nDCG@10``-style strings into :class:`Measure` values; each family in its own module.

The families are those of :data:`daft_retrieval.registry.MEASURES` (the CLI's list): loading each one's module
registers it in :data:`REGISTRY`.
"""

from daft_retrieval.evaluation.measures.base import REGISTRY, Measure, parse_measure, parse_measures
from daft_retrieval.registry import MEASURES as _MEASURES

for _entry in _MEASURES.entries():
    _entry.load()  # its module's @register adds the family
del _entry

__all__ = ["REGISTRY", "Measure", "parse_measure", "parse_measures"]
