"""BM25 term weights, one small pure function per variant, selected by name.

A posting's weight is ``idf(df, N) * tfc(tf, dl, avgdl, k1, b)``; a document's score for a query is the sum of
its postings' weights over the query's tokens. The variants follow Kamphuis, de Vries, Boytsov and Lin, "Which
BM25 Do You Mean? A Large-Scale Reproducibility Study of Scoring Variants", ECIR 2020, exactly as bm25s 0.3
implements them (``bm25s/scoring.py``):

- ``lucene`` (default):  idf = ln(1 + (N - df + 0.5) / (df + 0.5));  tfc = tf / (tf + k1 (1 - b + b dl/avgdl))
- ``robertson``:         idf = ln(max(1, (N - df + 0.5) / (df + 0.5)));  tfc as lucene
- ``atire``:             idf = ln(N / df);  tfc = tf (k1 + 1) / (tf + k1 (1 - b + b dl/avgdl))

(``robertson`` clamps the ratio at 1, so terms in more than half the documents weigh 0, as bm25s does.)
Every function takes plain numbers or Daft expressions alike:

    >>> round(bm25_weight("lucene", tf=1, df=1, dl=2, n_docs=3, avgdl=2.0, k1=1.2, b=0.75), 6)
    0.445831
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from daft import Expression

from daft_retrieval.errors import DataError

__all__ = ["VARIANTS", "bm25_weight", "idf_atire", "idf_lucene", "idf_robertson", "tfc_atire", "tfc_robertson"]


def _ln(x: Any) -> Any:
    return x.ln() if isinstance(x, Expression) else math.log(x)


def _at_least_one(x: Any) -> Any:
    return x.clip(1.0) if isinstance(x, Expression) else max(1.0, x)


def idf_lucene(df: Any, n_docs: float) -> Any:
    """ln(1 + (N - df + 0.5) / (df + 0.5)): never negative."""
    return _ln(1.0 + (n_docs - df + 0.5) / (df + 0.5))


def idf_robertson(df: Any, n_docs: float) -> Any:
    """ln(max(1, (N - df + 0.5) / (df + 0.5))): Robertson-Sparck Jones idf, clamped at 0."""
    return _ln(_at_least_one((n_docs - df + 0.5) / (df + 0.5)))


def idf_atire(df: Any, n_docs: float) -> Any:
    """ln(N / df)."""
    return _ln(n_docs / (df * 1.0))


def tfc_robertson(tf: Any, dl: Any, avgdl: float, k1: float, b: float) -> Any:
    """tf / (tf + k1 (1 - b + b dl / avgdl)): Robertson's and Lucene's term-frequency component."""
    return tf / (tf + k1 * (1.0 - b + b * dl / avgdl))


def tfc_atire(tf: Any, dl: Any, avgdl: float, k1: float, b: float) -> Any:
    """tf (k1 + 1) / (tf + k1 (1 - b + b dl / avgdl)): the classic saturation with the (k1 + 1) factor."""
    return tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * dl / avgdl))


VARIANTS: dict[str, tuple[Callable, Callable]] = {
    "lucene": (idf_lucene, tfc_robertson),
    "robertson": (idf_robertson, tfc_robertson),
    "atire": (idf_atire, tfc_atire),
}


def bm25_weight(variant: str, *, tf: Any, df: Any, dl: Any, n_docs: float, avgdl: float, k1: float, b: float) -> Any:
    """The BM25 weight of one posting (term frequency ``tf`` in a document of ``dl`` tokens) under ``variant``."""
    if variant not in VARIANTS:
        raise DataError(f"unknown BM25 variant {variant!r}: expected one of {sorted(VARIANTS)}")
    idf, tfc = VARIANTS[variant]
    return idf(df, n_docs) * tfc(tf, dl, avgdl, k1, b)
