"""What a measure is: a name, an optional cutoff and relevance threshold, and the Daft expressions that compute it.

A measure string is canonical and round-trips: ``nDCG@10``, ``R@100``, ``P(rel=2)@5``, ``AP@100``, ``RR``,
``RR@10``, ``MRR@10``, ``R-Prec``, ``Success@10``, ``NumRet``, ``SetF``, ``Judged@10``, ``Bpref`` (ir_measures'
syntax, ``Name(param=value, ...)@cutoff``: a family declares its parameters besides ``rel`` as :class:`Param`
values, and a parameter at its default is left out of the string). The same string is the CLI argument, the
result key and the column name. Each family lives in its own small module and registers itself in :data:`REGISTRY`.

How a family computes (see :mod:`daft_retrieval.evaluation.compute`): ``hits`` holds, per query, the retrieved
documents with relevance > 0, their trec_eval rank and ``above(t)`` = how many retrieved docs with relevance >= t
rank at or above them. A family gives per-query aggregations over ``hits`` and over the positive qrels, and an
expression turning those per-query columns into its value. Families that need the documents that are not relevant
(SetP, Judged@k, Bpref, infAP, RBP-Res) aggregate over ``judged``, the retrieved documents that the qrels judge
(any relevance, negative too), and over all the judgements (:meth:`Family.judged_aggs`,
:meth:`Family.judgement_aggs`); those that need how many documents were retrieved set
:attr:`Family.reads_retrieved` and read the per-query column ``retrieved``. No unjudged document is ever read
row by row: every measure here is a function of the judged ranks and the ranking's length.
A sum of floats is a :func:`float_sum` (exactly rounded, so per-query values have the same bits however Daft
partitions the rows), never Daft's ``sum()``.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import total_ordering
from typing import Any

from daft import Expression, col, lit
from daft.functions import when

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError
from daft_retrieval.exact import fsum_mean

__all__ = ["REGISTRY", "Family", "Measure", "Param", "float_sum", "parse_measure", "parse_measures"]


@dataclass(frozen=True)
class Param:
    """A family's parameter (besides ``rel``): ``check`` turns a parsed literal into its canonical value (hashable)
    or raises ValueError saying what is expected; ``show`` writes the canonical value back."""

    default: Any
    check: Callable[[Any], Any]
    expected: str
    show: Callable[[Any], str] = repr


def unit_interval(value: Any) -> float:
    """A float strictly between 0 and 1 (RBP's persistence p)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value < 1.0:
        raise ValueError(value)
    return float(value)


def boolean(value: Any) -> bool:
    """True or False (judged_only)."""
    if not isinstance(value, bool):
        raise ValueError(value)
    return value


JUDGED_ONLY = {
    "judged_only": Param(False, boolean, "True or False, e.g. nDCG(judged_only=True)@10"),
}
"""ir_measures' ``judged_only`` (Sakai, 2007, condensed lists; trec_eval ``-J``): the measure reads the ranking
with every document without a judgement >= 0 removed and the ranks closed up (see
:func:`daft_retrieval.evaluation.compute.evaluate`); a family taking it adds this to its ``params``."""


def one_of(*choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices:
            raise ValueError(value)
        return value

    return check


def gain_map(value: Any) -> tuple[tuple[int, float], ...]:
    """A dict relevance level -> gain, e.g. {0:0,1:1,2:3}, kept as sorted pairs (hashable); levels <= 0 gain 0."""
    if not isinstance(value, dict) or not value:
        raise ValueError(value)
    pairs = []
    for level, gain in sorted(value.items()):
        if isinstance(level, bool) or not isinstance(level, int) or isinstance(gain, bool):
            raise ValueError(value)
        if not isinstance(gain, (int, float)) or not math.isfinite(gain) or (level <= 0 and gain != 0):
            raise ValueError(value)
        pairs.append((level, gain))
    return tuple(pairs)


def show_gains(pairs: tuple[tuple[int, float], ...]) -> str:
    return "{" + ",".join(f"{level}:{gain!r}" for level, gain in pairs) + "}"


@total_ordering
@dataclass(frozen=True, repr=False)
class Measure:
    """A parsed measure: ``Measure("nDCG", cutoff=10)`` is ``nDCG@10``; ``rel`` is the relevance threshold and
    ``params`` the family's other parameters that differ from their default, as (name, value) pairs in the family's
    order (``RBP(p=0.5)``). The string is canonical: ``str(parse_measure(s)) == s`` for a canonical ``s``.

    >>> str(parse_measure("P(rel=2)@5"))
    'P(rel=2)@5'
    >>> str(parse_measure("nDCG(gains={2:3, 0:0, 1:1})@10"))
    'nDCG(gains={0:0,1:1,2:3})@10'
    """

    name: str
    cutoff: int | float | None = None
    rel: int | None = None
    params: tuple[tuple[str, Any], ...] = ()

    def __str__(self) -> str:
        family = REGISTRY.get(self.name)
        shown = [f"rel={self.rel}"] if self.rel is not None else []
        for key, value in self.params:
            show = family.params[key].show if family is not None and key in family.params else repr
            shown.append(f"{key}={show(value)}")
        args = f"({','.join(shown)})" if shown else ""
        cut = f"@{self.cutoff}" if self.cutoff is not None else ""
        return f"{self.name}{args}{cut}"

    def __repr__(self) -> str:
        extra = f", params={self.params!r}" if self.params else ""
        return f"Measure(name={self.name!r}, cutoff={self.cutoff!r}, rel={self.rel!r}{extra})"

    def _key(self) -> tuple:
        none_last = (self.cutoff is None, self.cutoff or 0, self.rel is None, self.rel or 0)
        return (self.name, *none_last, tuple((k, repr(v)) for k, v in self.params))

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Measure):
            return NotImplemented
        return self._key() < other._key()

    @property
    def threshold(self) -> int:
        """The minimum relevance that counts as relevant (1 unless ``rel=`` was given)."""
        return 1 if self.rel is None else self.rel

    def param(self, key: str) -> Any:
        """The value of the family's parameter ``key`` (its default unless given)."""
        return dict(self.params).get(key, self.family.params[key].default)

    @property
    def judged_only(self) -> bool:
        """Whether the measure reads the condensed ranking (only judged documents, ranks closed up)."""
        return bool(dict(self.params).get("judged_only", False))

    @property
    def family(self) -> Family:
        return REGISTRY[self.name]


class Family:
    """One measure family. Subclasses set the class attributes and override the three methods."""

    name: str = ""
    aliases: tuple[str, ...] = ()
    cutoff: str = "optional"  # "required", "optional" or "none"
    cutoff_kind: str = "rank"  # "rank": an integer >= 1; "fraction": a float in [0, 1] (IPrec@0.1)
    takes_rel: bool = True
    reads_retrieved: bool = False  # whether value() reads ``retrieved``: the documents retrieved (to the depth)
    params: dict[str, Param] = {}  # noqa: RUF012 (class-level, read only)
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

    def judged_aggs(self, m: Measure) -> dict[str, Expression]:
        """Per-query aggregations over ``judged``: the retrieved documents (to the measure's depth) that the qrels
        judge, any relevance (trec_eval treats a negative judgement as no judgement), with columns rank,
        relevance, num_rel_<t> and nonrel_above_<t> (judged docs with 0 <= relevance < t at or above the rank).
        Ranks are the ranking's own (1, 2, ... with no gap), so rank - 1 documents, judged or not, are above."""
        return {}

    def judgement_aggs(self, m: Measure) -> dict[str, Expression]:
        """Per-query aggregations over all the qrels, relevance <= 0 included (column relevance)."""
        return {}

    def check(self, text: str, m: Measure) -> None:
        """Raise a DataError naming ``text`` where the parameters make no sense together (default: they do)."""

    def value(self, m: Measure) -> Expression:
        """The per-query value from the aggregated columns (missing aggregates are 0)."""
        raise NotImplementedError

    def aggregate(self, m: Measure, values: list[float]) -> float:
        """The measure over all queries from the per-query values: their exactly rounded mean (NaN for none)."""
        return fsum_mean(values)


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


RETRIEVED = "retrieved"
"""Column: documents retrieved for the query, to the evaluation depth (0 for a judged query absent from the run);
read by families with ``reads_retrieved``."""


def nonrel_above(t: int) -> str:
    """Column of ``judged``: judged non-relevant (:func:`is_nonrel`) documents at or above the rank."""
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


_SYNTAX = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9_\-]*?)(?:\((?P<args>.*)\))?(?:[@_](?P<cut>\d+(?:\.\d+)?))?\s*$"
)


def _arguments(text: str, args: str) -> dict[str, Any]:
    """``rel=2, p=0.8`` -> {"rel": 2, "p": 0.8}: Python literals (numbers, quoted strings, dicts), by keyword."""
    fix = "write parameters as name=value, e.g. P(rel=2)@5, RBP(p=0.5), nDCG(dcg='exp-log2')@10"
    try:
        call = ast.parse(f"f({args})", mode="eval").body
        if not isinstance(call, ast.Call) or call.args:
            raise ValueError
        values = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
        if None in values:
            raise ValueError
    except (SyntaxError, ValueError):
        raise DataError(f"measure {text!r}: cannot read the parameters ({args}); {fix}") from None
    return values


def _cutoff(text: str, family: Family, cut: str | None) -> int | float | None:
    if cut is None:
        if family.cutoff == "required":
            example = f"{family.name}@0.5" if family.cutoff_kind == "fraction" else f"{family.name}@10"
            raise DataError(f"measure {text!r} needs a cutoff, e.g. {example}")
        return None
    if family.cutoff == "none":
        raise DataError(f"measure {text!r} takes no cutoff; write {family.name}")
    if family.cutoff_kind == "fraction":
        value = float(cut)
        if not 0.0 <= value <= 1.0:
            raise DataError(f"measure {text!r}: the cutoff is a recall level from 0.0 to 1.0, e.g. {family.name}@0.1")
        return value
    if "." in cut or int(cut) < 1:
        raise DataError(f"measure {text!r}: the cutoff must be a rank >= 1, e.g. {family.name}@10")
    return int(cut)


def parse_measure(text: str | Measure) -> Measure:
    """Parse ``nDCG@10``, ``P(rel=2)@5``, ``RR``, ``IPrec@0.1``, ``RBP(p=0.5)``, ... (ir_measures' syntax:
    ``Name(param=value, ...)@cutoff``; also trec_eval names such as ``ndcg_cut_10``). Parameters at their default
    are dropped (``RBP(p=0.8)`` is ``RBP``); the others are kept in the family's order.

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
    cutoff = _cutoff(text, family, match.group("cut"))
    given = _arguments(text, match.group("args")) if match.group("args") is not None else {}
    rel = given.pop("rel", None)
    if rel is not None and not family.takes_rel:
        raise DataError(f"measure {text!r}: {name} takes no rel= (it reads graded relevance)")
    if rel is not None and (isinstance(rel, bool) or not isinstance(rel, int) or rel < 1):
        raise DataError(f"measure {text!r}: rel= must be an integer >= 1, e.g. {name}(rel=2)")
    unknown = sorted(set(given) - set(family.params))
    if unknown:
        takes = ", ".join(["rel", *family.params] if family.takes_rel else list(family.params)) or "no parameter"
        raise DataError(f"measure {text!r}: unknown parameter {', '.join(unknown)}; {name} takes {takes}")
    params = []
    for key, spec in family.params.items():
        if key not in given:
            continue
        try:
            value = spec.check(given[key])
        except (TypeError, ValueError):
            raise DataError(f"measure {text!r}: {key}={given[key]!r} is not {spec.expected}") from None
        if value != spec.default:
            params.append((key, value))
    measure = Measure(name, cutoff, rel, tuple(params))
    family.check(text, measure)
    return measure


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
