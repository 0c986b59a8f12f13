"""What a measure is: a name, an optional cutoff and relevance threshold, and the Daft expressions that compute it.

A measure string is canonical and round-trips: ``nDCG@10``, ``R@100``, ``P(rel=2)@5``, ``AP@100``, ``RR``,
``RR@10``, ``MRR@10``, ``R-Prec``, ``Success@10``, ``NumRet``, ``SetF``, ``Judged@10``, ``Bpref`` (ir_measures'
syntax). The same string is the CLI argument, the result key and the column name. Each family lives in its own
small module and registers itself in :data:`REGISTRY`.

How a family computes (see :mod:`daft_retrieval.evaluation.compute`): ``hits`` holds, per query, the retrieved
documents with relevance > 0, their trec_eval rank and ``above(t)`` = how many retrieved docs with relevance >= t
rank at or above them. A family gives per-query aggregations over ``hits`` and over the positive qrels, and an
expression turning those per-query columns into its value. Families that need the documents that are not relevant
(NumRet, SetP, Judged@k, Bpref) also aggregate over ``ranking`` (every retrieved document, judged or not) and over
all the judgements (:meth:`Family.ranking_aggs`, :meth:`Family.judgement_aggs`); no other family reads them.
A sum of floats is a :func:`float_sum` (exactly rounded, so per-query values have the same bits however Daft
partitions the rows), never Daft's ``sum()``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from daft import Expression, col, lit
from daft.functions import when

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError

__all__ = ["REGISTRY", "Family", "Measure", "float_sum", "parse_measure", "parse_measures"]


@dataclass(frozen=True, order=True)
class Measure:
    """A parsed measure: ``Measure("nDCG", cutoff=10)`` is ``nDCG@10``; ``rel`` is the relevance threshold.

    >>> str(parse_measure("P(rel=2)@5"))
    'P(rel=2)@5'
    """

    name: str
    cutoff: int | None = None
    rel: int | None = None

    def __str__(self) -> str:
        rel = f"(rel={self.rel})" if self.rel is not None else ""
        cut = f"@{self.cutoff}" if self.cutoff is not None else ""
        return f"{self.name}{rel}{cut}"

    @property
    def threshold(self) -> int:
        """The minimum relevance that counts as relevant (1 unless ``rel=`` was given)."""
        return 1 if self.rel is None else self.rel

    @property
    def family(self) -> Family:
        return REGISTRY[self.name]


class Family:
    """One measure family. Subclasses set the class attributes and override the three methods."""

    name: str = ""
    aliases: tuple[str, ...] = ()
    cutoff: str = "optional"  # "required", "optional" or "none"
    takes_rel: bool = True
    doc: str = ""

    def depth(self, m: Measure) -> int | None:
        """How deep the ranking must be read (None: to its end)."""
        return m.cutoff

    def hit_aggs(self, m: Measure) -> dict[str, Expression]:
        """Per-query aggregations over ``hits`` (columns rank, relevance, above_<t>), by output column name."""
        return {}

    def qrel_aggs(self, m: Measure) -> dict[str, Expression]:
        """Per-query aggregations over the positive qrels (columns relevance, ideal_rank)."""
        return {}

    def ranking_aggs(self, m: Measure) -> dict[str, Expression]:
        """Per-query aggregations over ``ranking``: every retrieved document (to the measure's depth) with columns
        rank, relevance (-1 where unjudged: trec_eval treats a negative judgement as no judgement), judged
        (whether the qrels judge it at all), num_rel_<t> and nonrel_above_<t> (judged docs with 0 <= relevance < t
        at or above the rank)."""
        return {}

    def judgement_aggs(self, m: Measure) -> dict[str, Expression]:
        """Per-query aggregations over all the qrels, relevance <= 0 included (column relevance)."""
        return {}

    def value(self, m: Measure) -> Expression:
        """The per-query value from the aggregated columns (missing aggregates are 0)."""
        raise NotImplementedError


REGISTRY: dict[str, Family] = {}
_ALIASES: dict[str, str] = {}


def register(family: type[Family]) -> type[Family]:
    """Class decorator adding a family (and its aliases, case-insensitively) to the registry."""
    instance = family()
    REGISTRY[instance.name] = instance
    for alias in (instance.name, *instance.aliases):
        _ALIASES[alias.lower()] = instance.name
    return family


# Shared building blocks: column names and expressions used by several families.
def num_rel(t: int) -> str:
    """Column: number of judged documents with relevance >= t for the query (trec_eval num_rel)."""
    return f"num_rel_{t}"


def rel_at(t: int, k: int | None) -> str:
    """Column: relevant (>= t) documents retrieved within rank k (the whole ranking for None)."""
    return f"rel_ret_{t}_{k or 'all'}"


def is_rel(t: int) -> Expression:
    return col(S.RELEVANCE) >= t


def count_where(cond: Expression) -> Expression:
    return when(cond, 1).otherwise(0).sum()


def float_sum(value: Expression) -> Expression:
    """A per-query sum of floats, exactly rounded whatever order Daft delivers the rows in: the aggregation gathers
    the values (``list_agg``) and :func:`daft_retrieval.evaluation.compute.evaluate` adds each list with
    :func:`math.fsum` (:mod:`daft_retrieval.exact`). Integer sums (:func:`count_where`) are exact as they are."""
    return value.cast("float64").list_agg()


def is_nonrel(t: int) -> Expression:
    """Judged non-relevant at threshold t as trec_eval counts it (bpref): 0 <= relevance < t."""
    return (col(S.RELEVANCE) >= 0) & (col(S.RELEVANCE) < t)


def nonrel_above(t: int) -> str:
    """Column of ``ranking``: judged non-relevant (:func:`is_nonrel`) documents at or above the rank."""
    return f"nonrel_above_{t}"


def within(k: int | None) -> Expression:
    return col("rank") <= k if k is not None else lit(True)


def num_rel_agg(t: int) -> dict[str, Expression]:
    return {num_rel(t): count_where(is_rel(t))}


def rel_at_agg(t: int, k: int | None) -> dict[str, Expression]:
    return {rel_at(t, k): count_where(is_rel(t) & within(k))}


def safe_div(num: Expression, den: Expression) -> Expression:
    """num / den, or 0 where den is 0 (trec_eval's convention for queries without relevant documents)."""
    return when(den > 0, num.cast("float64") / den.cast("float64")).otherwise(0.0)


_SYNTAX = re.compile(r"^\s*(?P<name>[A-Za-z][A-Za-z_\-]*?)(?:\(rel=(?P<rel>-?\d+)\))?(?:[@_](?P<cut>\d+))?\s*$")


def parse_measure(text: str | Measure) -> Measure:
    """Parse ``nDCG@10``, ``P(rel=2)@5``, ``RR``, ... (also trec_eval names such as ``ndcg_cut_10``).

    >>> parse_measure("ndcg_cut_10")
    Measure(name='nDCG', cutoff=10, rel=None)
    """
    if isinstance(text, Measure):
        return text
    match = _SYNTAX.match(text)
    name = _ALIASES.get(match.group("name").lower()) if match else None
    if match is None or name is None:
        known = ", ".join(sorted(REGISTRY))
        raise DataError(f"unknown measure {text!r}; known: {known} (e.g. nDCG@10, R@100, P(rel=2)@5, RR)")
    family = REGISTRY[name]
    cutoff = int(match.group("cut")) if match.group("cut") else None
    rel = int(match.group("rel")) if match.group("rel") is not None else None
    if family.cutoff == "required" and cutoff is None:
        raise DataError(f"measure {text!r} needs a cutoff, e.g. {name}@10")
    if family.cutoff == "none" and cutoff is not None:
        raise DataError(f"measure {text!r} takes no cutoff")
    if cutoff is not None and cutoff < 1:
        raise DataError(f"measure {text!r}: the cutoff must be >= 1")
    if rel is not None and (not family.takes_rel or rel < 1):
        raise DataError(f"measure {text!r}: rel= must be >= 1" if family.takes_rel else f"measure {name} takes no rel=")
    return Measure(name, cutoff, rel)


def parse_measures(texts) -> list[Measure]:
    """Parse several measures (a string, or an iterable of strings/Measures), keeping order, dropping repeats."""
    if isinstance(texts, (str, Measure)):
        texts = [texts]
    out: list[Measure] = []
    for t in texts:
        m = parse_measure(t)
        if m not in out:
            out.append(m)
    if not out:
        raise DataError("no measure given; e.g. nDCG@10 R@100")
    return out
