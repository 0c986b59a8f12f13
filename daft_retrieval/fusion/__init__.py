"""Fusion of run frames: RRF, CombSUM, CombMNZ and the normalised weighted sum; each returns a run frame.

:func:`fuse` runs any of them by name (:data:`daft_retrieval.registry.FUSIONS`), after :func:`check_fusion`.
"""

from daft_retrieval import registry as _registry
from daft_retrieval.fusion.by_name import check_fusion, fuse
from daft_retrieval.fusion.comb import comb_mnz, comb_sum, weighted_sum
from daft_retrieval.fusion.normalize import NORMALIZATIONS, normalize
from daft_retrieval.fusion.rrf import rrf

__all__ = [
    "FUSIONS",
    "NORMALIZATIONS",
    "check_fusion",
    "comb_mnz",
    "comb_sum",
    "fuse",
    "normalize",
    "rrf",
    "weighted_sum",
]

FUSIONS = {entry.name: entry.load() for entry in _registry.FUSIONS.entries()}
"""Each registered fusion's function, by name: ``{"rrf": rrf, "combsum": comb_sum, ...}``."""
