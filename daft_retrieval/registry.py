"""Registries: the named parts of one kind (retrievers, fusions, normalisations, rerankers, BM25 variants,
measures), with the one line of help the CLI shows for each and the facts it needs (``info``).

An entry names its part as ``"module:attribute"``, imported on first use, so the registries (and the CLI's parser,
which builds its choices and help from them alone) load neither Daft nor any model library.

    >>> COLOURS = Registry("colour")
    >>> COLOURS.add("red", "colorsys:rgb_to_hsv", help="the colour of fire")
    >>> COLOURS.names(), COLOURS.get("red")(1.0, 0.0, 0.0), COLOURS.help("red")
    (['red'], (0.0, 1.0, 1.0), 'the colour of fire')
    >>> COLOURS.get("blue")
    Traceback (most recent call last):
    ...
    daft_retrieval.errors.DataError: unknown colour 'blue': expected one of red

The package's registries are declared at the end of this module, in the order the CLI lists them. A part's target
is the function that runs it: a retriever's search, a fusion function, a measure's family class; parts chosen by
an argument of one function point at that function (a normalisation at ``normalize(run, method)``, a reranker at
``rerank(..., method=)``, a BM25 variant at ``bm25_weight(variant, ...)``). Each library module's own table
(``fuse.FUSIONS``, ``fuse.NORMALIZATIONS``, ``reranking.RERANKERS``, ``score.VARIANTS``, the measures' ``REGISTRY``)
is derived from, or tested against, these.

    >>> FUSIONS.names(), FUSIONS.default
    (['rrf', 'combsum', 'combmnz', 'wsum'], 'rrf')
    >>> [name for name in FUSIONS if FUSIONS.entry(name).info["norm"]]
    ['combsum', 'combmnz', 'wsum']
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from daft_retrieval.errors import DataError

__all__ = [
    "BM25_VARIANTS",
    "CHUNK_AGGS",
    "CORRECTIONS",
    "FUSIONS",
    "MEASURES",
    "NORMALIZATIONS",
    "RERANKERS",
    "RETRIEVERS",
    "Entry",
    "Registry",
]


@dataclass(frozen=True)
class Entry:
    """One registered part: its name, where it is defined (``"module:attribute"``), one line of help, and free-form
    facts the CLI reads (``info``: e.g. the option naming a retriever's model)."""

    name: str
    target: str
    help: str
    info: dict[str, Any] = field(default_factory=dict)

    def load(self) -> Any:
        """The part itself (its module is imported now)."""
        module, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(module), attribute)


class Registry:
    """Names of one ``kind`` of part, in registration order; ``default`` names the one used when none is given."""

    def __init__(self, kind: str, *, default: str | None = None) -> None:
        self.kind = kind
        self._default = default
        self._entries: dict[str, Entry] = {}

    @property
    def default(self) -> str:
        """The name used when none is given (a bug when it was never registered)."""
        if self._default is None or self._default not in self._entries:
            raise LookupError(f"no default {self.kind} is registered (default={self._default!r})")
        return self._default

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._entries)})"

    def add(self, name: str, target: str, *, help: str, **info: Any) -> None:
        """Register ``target`` (``"module:attribute"``) as ``name``; a second registration of a name is a bug."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        if ":" not in target:
            raise ValueError(f"{self.kind} {name!r}: the target must be 'module:attribute', not {target!r}")
        self._entries[name] = Entry(name, target, help, dict(info))

    def entry(self, name: str) -> Entry:
        """The entry of ``name``, or a :class:`DataError` naming the choices."""
        if name not in self._entries:
            raise DataError(f"unknown {self.kind} {name!r}: expected one of {', '.join(self._entries)}")
        return self._entries[name]

    def get(self, name: str) -> Any:
        """The part registered as ``name`` (a :class:`DataError` naming the choices when there is none)."""
        return self.entry(name).load()

    def help(self, name: str) -> str:
        """The one line of help of ``name``."""
        return self.entry(name).help

    def names(self) -> list[str]:
        """Every name, in registration order (the CLI's ``choices``)."""
        return list(self._entries)

    def entries(self) -> list[Entry]:
        """Every entry, in registration order."""
        return list(self._entries.values())

    def describe(self) -> str:
        """``rrf (reciprocal rank fusion), combsum (...)``: every name with its help, for a CLI help line."""
        return ", ".join(f"{e.name} ({e.help})" for e in self._entries.values())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


# The package's registries ---------------------------------------------------------------------------------------
DEFAULT_MODEL = "all-MiniLM-L6-v2"

RETRIEVERS = Registry("retriever", default="dense")
"""Retrievers; ``info``: ``model_option`` (the CLI option naming the model; absent: the retriever takes none),
``model_dest`` (its argparse destination), ``default_model``, ``model_help``."""
RETRIEVERS.add(
    "dense",
    "daft_retrieval.retrieve.dense:dense_search",
    help="bi-encoder embeddings, exact cosine top k",
    model_option="--model",
    model_dest="model",
    default_model=DEFAULT_MODEL,
    model_help="dense model: local path, hub id, or short name of an offline model",
)
RETRIEVERS.add("bm25", "daft_retrieval.retrieve.bm25:bm25_search", help="BM25 over an inverted index")
RETRIEVERS.add(
    "splade",
    "daft_retrieval.retrieve.splade:splade_search",
    help="SPLADE learned sparse vectors",
    model_option="--splade-model",
    model_dest="splade_model",
    default_model="splade-tiny",
    model_help="SPLADE model",
    model_note="offline",
)
RETRIEVERS.add(
    "late",
    "daft_retrieval.retrieve.late:late_search",
    help="late interaction, MaxSim over token vectors",
    model_option="--late-model",
    model_dest="late_model",
    default_model=DEFAULT_MODEL,
    model_help="late-interaction (token) model",
)

FUSIONS = Registry("fusion", default="rrf")
"""Fusion methods; ``info``: ``norm`` (normalises scores first: takes ``norm=``), ``weights`` (needs one weight per
run), ``params`` (its other keyword options, e.g. rrf's ``k``)."""
FUSIONS.add(
    "rrf", "daft_retrieval.fusion.rrf:rrf", help="reciprocal rank fusion", norm=False, weights=False, params=("k",)
)
FUSIONS.add("combsum", "daft_retrieval.fusion.comb:comb_sum", help="sum of scores", norm=True, weights=False, params=())
FUSIONS.add(
    "combmnz",
    "daft_retrieval.fusion.comb:comb_mnz",
    help="sum x runs holding the doc",
    norm=True,
    weights=False,
    params=(),
)
FUSIONS.add("wsum", "daft_retrieval.fusion.comb:weighted_sum", help="weighted sum", norm=True, weights=True, params=())

NORMALIZATIONS = Registry("normalisation", default="min-max")
"""Per-query score normalisations before a score fusion (``normalize(run, method)``)."""
for _name, _help in (
    ("min-max", "(s - min) / (max - min)"),
    ("zmuv", "(s - mean) / std"),
    ("sum", "(s - min) / sum(s - min)"),
    ("none", "the scores as they are"),
):
    NORMALIZATIONS.add(_name, "daft_retrieval.fusion.normalize:normalize", help=_help)

CHUNK_AGGS = Registry("chunk aggregation", default="max")
"""How a chunked document's score comes from its chunks' (``Chunking(agg=)``; Dai & Callan, SIGIR 2019)."""
CHUNK_AGGS.add("max", "daft_retrieval.retrieve.chunked:chunked_search", help="MaxP: the best chunk's score")
CHUNK_AGGS.add("first", "daft_retrieval.retrieve.chunked:chunked_search", help="FirstP: the first chunk's score")
CHUNK_AGGS.add("sum", "daft_retrieval.retrieve.chunked:chunked_search", help="SumP: the sum of the chunks' scores")

RERANKERS = Registry("reranker", default="cross")
"""How a rerank scores (``rerank(..., method=)``)."""
RERANKERS.add("cross", "daft_retrieval.reranking.rerank:rerank", help="cross-encoder")
RERANKERS.add("bi", "daft_retrieval.reranking.rerank:rerank", help="bi-encoder cosine")
RERANKERS.add("late", "daft_retrieval.reranking.rerank:rerank", help="late-interaction MaxSim")

BM25_VARIANTS = Registry("BM25 variant", default="lucene")
"""BM25 scoring variants (``bm25_weight(variant, ...)``; Kamphuis et al., ECIR 2020)."""
BM25_VARIANTS.add("lucene", "daft_retrieval.score.bm25:bm25_weight", help="idf ln(1 + (N - df + .5) / (df + .5))")
BM25_VARIANTS.add("robertson", "daft_retrieval.score.bm25:bm25_weight", help="idf clamped at 0")
BM25_VARIANTS.add("atire", "daft_retrieval.score.bm25:bm25_weight", help="idf ln(N / df), tf x (k1 + 1)")

CORRECTIONS = Registry("correction", default="holm")
"""Multiple-testing corrections over a table's tests (``adjust_p_values(p, method)``)."""
CORRECTIONS.add("holm", "daft_retrieval.statistics.correction:adjust_p_values", help="Holm-Bonferroni (FWER)")
CORRECTIONS.add("bh", "daft_retrieval.statistics.correction:adjust_p_values", help="Benjamini-Hochberg (FDR)")
CORRECTIONS.add("none", "daft_retrieval.statistics.correction:adjust_p_values", help="the raw p-values")

MEASURES = Registry("measure")
"""Measure families (their modules register them in :data:`daft_retrieval.evaluation.measures.base.REGISTRY` when
:mod:`daft_retrieval.evaluation.measures` loads them from here); ``info``: ``example``, a measure string."""
for _name, _target, _example, _help in (
    ("nDCG", "ndcg:NDCG", "nDCG@10", "normalised DCG, linear gain (trec_eval ndcg_cut); or dcg='exp-log2', gains={..}"),
    ("R", "recall:Recall", "R@100", "recall at k (trec_eval recall)"),
    ("P", "precision:Precision", "P(rel=2)@5", "precision at k (trec_eval P)"),
    ("RR", "rr:RR", "RR", "reciprocal rank of the first relevant doc (trec_eval recip_rank); RR@k within the top k"),
    ("MRR", "rr:MRR", "MRR@10", "reciprocal rank within the top k (BEIR/MTEB MRR@k)"),
    ("AP", "ap:AP", "AP@100", "average precision (trec_eval map_cut / map)"),
    ("R-Prec", "rprec:RPrec", "R-Prec", "precision at R, R = number of relevant docs (trec_eval Rprec)"),
    ("Success", "success:Success", "Success@10", "1 if any relevant doc is in the top k (trec_eval success)"),
    ("NumQ", "counts:NumQ", "NumQ", "1 per query: the mean is 1, per query the count (trec_eval num_q)"),
    ("NumRet", "counts:NumRet", "NumRet", "documents retrieved; NumRet(rel=t) only relevant ones (trec_eval num_ret)"),
    ("NumRel", "counts:NumRel", "NumRel", "relevant documents judged for the query (trec_eval num_rel)"),
    ("NumRelRet", "counts:NumRelRet", "NumRelRet", "relevant documents retrieved (trec_eval num_rel_ret)"),
    ("SetP", "sets:SetP", "SetP", "relevant retrieved / retrieved (trec_eval set_P)"),
    ("SetR", "sets:SetR", "SetR", "relevant retrieved / relevant (trec_eval set_recall)"),
    ("SetF", "sets:SetF", "SetF(beta=0.5)", "F_beta of SetP and SetR, beta 1 by default (trec_eval set_F.beta^2)"),
    ("Judged", "judged:Judged", "Judged@10", "share of the top k with a judgement (ir_measures Judged)"),
    ("Bpref", "bpref:Bpref", "Bpref", "binary preference: relevant above judged non-relevant (trec_eval bpref)"),
    ("IPrec", "iprec:IPrec", "IPrec@0.1", "interpolated precision at recall r, IPrec@0.1 (trec_eval iprec_at_recall)"),
    ("11pt", "iprec:ElevenPoint", "11pt", "mean IPrec at recall 0.0, 0.1, ..., 1.0 (trec_eval 11pt_avg)"),
    ("GMAP", "gmap:GMAP", "GMAP", "geometric mean of AP, per query log(max(AP, 1e-5)) (trec_eval gm_map)"),
    ("RBP", "rbp:RBP", "RBP(p=0.5)", "rank-biased precision, persistence p (ir_measures RBP(p=0.8))"),
    (
        "RBP-Res",
        "rbp:RBPResidual",
        "RBP-Res(p=0.5)",
        "residual of RBP: the most RBP could grow were every unjudged doc relevant (Moffat & Zobel)",
    ),
    ("ERR", "err:ERR", "ERR@20", "expected reciprocal rank, gains (2^g - 1) / 2^gmax (ir_measures ERR@k)"),
    (
        "infAP",
        "infap:InfAP",
        "infAP",
        "inferred AP over a sampled pool, judgement < 0: pooled, not sampled (trec_eval infAP)",
    ),
):
    MEASURES.add(_name, f"daft_retrieval.evaluation.measures.{_target}", help=_help, example=_example)
del _name, _help, _target, _example
