"""An approximate system against its exact counterpart: Overlap@10 (the share of the exact top 10 it returns,
:func:`daft_retrieval.evaluation.overlap`) and the delta of each measure to exact (approximate minus exact).

The counterpart is the same retriever spec with ``index="exact"`` (its embeddings come from the cache, so nothing
is encoded again; its content key is that of the exact system, so an experiment that also runs the exact system
computes it once). An exact system has no counterpart: it reports nothing (absent, not 0 or 1).

    >>> exact_counterpart(Retrieve(retriever="dense", index="faiss:HNSW32")).index
    'exact'
    >>> exact_counterpart(Retrieve(retriever="dense")) is None
    True
"""

from __future__ import annotations

import dataclasses

import daft

from daft_retrieval.experiment.spec import Retrieve, System

__all__ = ["OVERLAP", "OVERLAP_K", "against_exact", "exact_counterpart"]

OVERLAP_K = 10
OVERLAP = f"Overlap@{OVERLAP_K}"


def exact_counterpart(spec: System) -> Retrieve | None:
    """The exact-index spec of a retriever with an approximate index (None for every other system)."""
    if not isinstance(spec, Retrieve) or spec.index == "exact":
        return None
    return dataclasses.replace(spec, index="exact", name=None, index_dir=None, qdrant_url=None)


def against_exact(approx: daft.DataFrame, exact: daft.DataFrame, values: dict, exact_values: dict) -> dict:
    """``{"Overlap@10": ..., "delta_to_exact": {measure: approx - exact}}`` of two runs and their means
    (``values``: the approximate run's measure -> mean; ``exact_values``: the exact run's)."""
    from daft_retrieval.evaluation import overlap

    return {
        OVERLAP: overlap(approx, exact, k=OVERLAP_K).aggregate[OVERLAP],
        "delta_to_exact": {m: values[m] - exact_values[m] for m in values if m in exact_values},
    }
