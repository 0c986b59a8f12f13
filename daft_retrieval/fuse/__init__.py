"""Fusion of run frames: RRF, CombSUM, CombMNZ and the normalised weighted sum; each returns a run frame."""

from daft_retrieval.fuse.comb import comb_mnz, comb_sum, weighted_sum
from daft_retrieval.fuse.normalize import NORMALIZATIONS, normalize
from daft_retrieval.fuse.rrf import rrf

__all__ = ["FUSIONS", "NORMALIZATIONS", "comb_mnz", "comb_sum", "normalize", "rrf", "weighted_sum"]

FUSIONS = {"rrf": rrf, "combsum": comb_sum, "combmnz": comb_mnz, "wsum": weighted_sum}
