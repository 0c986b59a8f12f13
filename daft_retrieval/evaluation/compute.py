"""Evaluate a run against qrels as one Daft aggregation, with trec_eval's semantics.

1. Rank: ``row_number`` over each query ordered by score descending, then doc id descending (trec_eval's order,
   whatever the run's own rank column says).
2. Hits: the ranked run inner-joined with the qrels of relevance > 0; per relevance threshold t, ``above_t`` is a
   running count of relevant (>= t) hits at or above each rank.
3. Per-query aggregations over the hits and over the positive qrels (num_rel, ideal DCG), each measure asking for
   the ones it needs; then each measure's value per query. Only when a measure asks (SetP, Judged@k, Bpref,
   infAP, RBP-Res): per-query aggregations over the retrieved documents with a judgement (``judged``: the run
   inner-joined with all the qrels, relevance <= 0 too), the count of documents retrieved, and aggregations over
   all the qrels. No measure reads an unjudged document row by row, so a deep run costs one count beyond ``hits``.
   Measures with ``judged_only=True`` (ir_measures' condensed lists) go through steps 1-3 on their own ranking:
   the run less its documents without a judgement >= 0, ranked again (:func:`_condensed`).
4. Queries: every query in the qrels, a query absent from the run scoring 0 (trec_eval ``-c``), or with
   ``queries="both"`` only queries in both run and qrels (trec_eval without ``-c``). Runs for queries without qrels
   are ignored.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import NamedTuple

import daft
from daft import DataType, Window, col
from daft.functions import row_number

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError, DataWarning
from daft_retrieval.evaluation.measures import Measure, parse_measures
from daft_retrieval.evaluation.measures.base import RETRIEVED, is_nonrel, nonrel_above, num_rel, num_rel_agg
from daft_retrieval.exact import list_fsum
from daft_retrieval.run import rank_run
from daft_retrieval.runner import materialize

__all__ = ["Evaluation", "evaluate"]


class Evaluation(NamedTuple):
    """``per_query``: frame ``query_id, measure, value``; ``aggregate``: measure string -> the measure over all queries
    (the mean of the per-query values; for ``GMAP`` their geometric mean, see its family's ``aggregate``)."""

    per_query: daft.DataFrame
    aggregate: dict[str, float]

    def __repr__(self) -> str:
        means = ", ".join(f"{name}={value:.4f}" for name, value in self.aggregate.items())
        n = self.per_query.count_rows() // max(1, len(self.aggregate))
        return f"Evaluation({n} queries: {means}; .aggregate, .per_query, .wide())"

    def wide(self) -> daft.DataFrame:
        """Per-query values as one row per query, one column per measure."""
        return self.per_query.pivot(S.QUERY_ID, S.MEASURE, S.VALUE, "sum", list(self.aggregate)).sort(S.QUERY_ID)


def _depth(measures: list[Measure], depth: int | None) -> int | None:
    depths = [m.family.depth(m) for m in measures]
    needed = None if any(d is None for d in depths) else max(depths)
    if depth is None:
        return needed
    return depth if needed is None else min(depth, needed)


def _add_lists(stats: daft.DataFrame) -> daft.DataFrame:
    """``stats`` with each list of floats (a :func:`~daft_retrieval.evaluation.measures.base.float_sum`) replaced by
    its exactly rounded sum; other lists (ERR's hits) stay for the family's value to read."""
    lists = [f.name for f in stats.schema() if f.dtype == DataType.list(DataType.float64())]
    return stats.with_columns({c: list_fsum(col(c)) for c in lists}) if lists else stats


def _no_queries(run: daft.DataFrame, qrels: daft.DataFrame, queries: str, empty: str) -> None:
    """Say why there is no query to average over: a DataWarning (the means are NaN), or a DataError."""
    if not qrels.count_rows():
        why = "the qrels are empty (no judged query); give the qrels of the run's collection"
    elif not run.count_rows():
        why = "the run is empty and queries='both' averages over the queries it answers (queries='qrels' counts them 0)"
    else:  # queries == "both"
        run_ids = sorted(run.select(S.QUERY_ID).distinct().limit(3).to_pydict()[S.QUERY_ID])
        qrel_ids = sorted(qrels.select(S.QUERY_ID).distinct().limit(3).to_pydict()[S.QUERY_ID])
        why = (
            f"no query is in both the run (e.g. {run_ids}) and the qrels (e.g. {qrel_ids}); check that they are of "
            "the same collection and split, or average over every judged query (queries='qrels')"
        )
    if empty == "error":
        raise DataError(f"no query to average over: {why}")
    warnings.warn(f"no query to average over, every mean is NaN: {why}", DataWarning, stacklevel=3)


def _merge(dicts: Iterable[dict]) -> dict:
    merged: dict = {}
    for d in dicts:
        merged.update(d)
    return merged


_UPTO = Window().partition_by(S.QUERY_ID).order_by(S.RANK).rows_between(Window.unbounded_preceding, Window.current_row)
"""Each query's rows from rank 1 to the current one (running counts)."""


def _judged_stats(
    ranked: daft.DataFrame,
    qrels: daft.DataFrame,
    qrel_stats: daft.DataFrame,
    thresholds: list[int],
    measures: list[Measure],
) -> daft.DataFrame | None:
    """The measures' :meth:`~daft_retrieval.evaluation.measures.base.Family.judged_aggs` per query, over the
    retrieved documents with a judgement (any relevance), and ``retrieved`` where a measure reads it (None when no
    measure asks for either). Unjudged documents are never joined: a ranking's unjudged ranks are the ranks
    1..retrieved less the judged ones."""
    aggs = _merge(m.family.judged_aggs(m) for m in measures)
    stats = None
    if aggs:
        judged = ranked.join(qrels.select(S.QUERY_ID, S.DOC_ID, S.RELEVANCE), on=[S.QUERY_ID, S.DOC_ID])
        for t in thresholds:
            judged = judged.with_column(nonrel_above(t), is_nonrel(t).cast("int64").sum().over(_UPTO))
        counts = qrel_stats.select(S.QUERY_ID, *[num_rel(t) for t in thresholds])
        judged = judged.join(counts, on=S.QUERY_ID, how="left")
        judged = judged.with_columns({num_rel(t): col(num_rel(t)).fill_null(0) for t in thresholds})
        stats = _add_lists(judged.groupby(S.QUERY_ID).agg(*[e.alias(n) for n, e in aggs.items()]))
    if any(m.family.reads_retrieved for m in measures):
        retrieved = ranked.groupby(S.QUERY_ID).agg(col(S.RANK).count().cast("int64").alias(RETRIEVED))
        stats = retrieved if stats is None else retrieved.join(stats, on=S.QUERY_ID, how="left")
    return None if stats is None else materialize(stats)


def _condensed(run: daft.DataFrame, qrels: daft.DataFrame, depth: int | None, needed: int | None) -> daft.DataFrame:
    """The ranking of ``judged_only=True`` measures (ir_measures; Sakai, 2007; trec_eval ``-J``): the run read to
    ``depth`` (trec_eval ``-M`` comes first), less every document without a judgement >= 0 (unjudged, or judged
    < 0: trec_eval's "not judged"), ranked again so the ranks close up, to the ``needed`` depth."""
    read = rank_run(run, depth).select(S.QUERY_ID, S.DOC_ID, S.SCORE)
    judged = qrels.where(col(S.RELEVANCE) >= 0).select(S.QUERY_ID, S.DOC_ID)
    return rank_run(read.join(judged, on=[S.QUERY_ID, S.DOC_ID], how="semi"), needed)


def _values(
    ranked: daft.DataFrame, qrels: daft.DataFrame, base: daft.DataFrame, parsed: list[Measure]
) -> daft.DataFrame:
    """Each measure's value per query of ``base`` (a column named by the measure) from one ranking."""
    thresholds = sorted({m.threshold for m in parsed})
    if any(m.family.reads_retrieved or m.family.judged_aggs(m) for m in parsed):
        ranked = materialize(ranked)  # read twice (hits, judged): rank once
    positive = qrels.where(col(S.RELEVANCE) > 0)
    ideal = Window().partition_by(S.QUERY_ID).order_by(S.RELEVANCE, S.DOC_ID, desc=[True, False])
    qrel_aggs = _merge([*(num_rel_agg(t) for t in thresholds), *(m.family.qrel_aggs(m) for m in parsed)])
    qrel_stats = materialize(
        _add_lists(
            positive.with_column("ideal_rank", row_number().over(ideal))
            .groupby(S.QUERY_ID)
            .agg(*[e.alias(n) for n, e in qrel_aggs.items()])
        )
    )

    hits = ranked.join(positive, on=[S.QUERY_ID, S.DOC_ID], how="inner")
    for t in thresholds:
        hits = hits.with_column(f"above_{t}", (col(S.RELEVANCE) >= t).cast("int64").sum().over(_UPTO))
    hits = materialize(hits.join(qrel_stats.select(S.QUERY_ID, *[num_rel(t) for t in thresholds]), on=S.QUERY_ID))

    hit_aggs = _merge(m.family.hit_aggs(m) for m in parsed)
    hit_stats = (
        _add_lists(hits.groupby(S.QUERY_ID).agg(*[e.alias(n) for n, e in hit_aggs.items()])) if hit_aggs else None
    )

    judged_stats = _judged_stats(ranked, qrels, qrel_stats, thresholds, parsed)
    judgement_aggs = _merge(m.family.judgement_aggs(m) for m in parsed)
    judgement_stats = (
        qrels.groupby(S.QUERY_ID).agg(*[e.alias(n) for n, e in judgement_aggs.items()]) if judgement_aggs else None
    )

    table = base.join(qrel_stats, on=S.QUERY_ID, how="left")
    if hit_stats is not None:
        table = table.join(hit_stats, on=S.QUERY_ID, how="left")
    for extra in (judged_stats, judgement_stats):
        if extra is not None:
            table = table.join(extra, on=S.QUERY_ID, how="left")
    numbers = [f.name for f in table.schema() if f.name != S.QUERY_ID and not f.dtype.is_list()]
    table = table.with_columns({c: col(c).fill_null(0) for c in numbers})  # a list stays null: the family reads it
    return table.select(S.QUERY_ID, *[m.family.value(m).alias(str(m)) for m in parsed])


def evaluate(
    run: daft.DataFrame,
    qrels: daft.DataFrame,
    measures: str | Iterable[str | Measure],
    *,
    queries: str = "qrels",
    depth: int | None = None,
    empty: str = "nan",
) -> Evaluation:
    """Evaluate ``run`` (``query_id, doc_id, score``) against ``qrels`` with trec_eval's semantics.

    ``queries="qrels"`` averages over every query in the qrels (missing from the run: 0, as ``trec_eval -c``);
    ``queries="both"`` only over queries in both. ``depth`` reads each ranking only to that rank (trec_eval
    ``-M``; default: the whole ranking). With no query to average over (empty qrels, or no query in both with
    ``queries="both"``) a mean is NaN, not 0, with a :class:`DataWarning` saying why (as ir_measures);
    ``empty="error"`` raises a :class:`DataError` instead (the CLI's choice).

    Every sum of floats is exactly rounded (:mod:`daft_retrieval.exact`): per-query values and means are the same
    bits whatever the partitioning, thread count or runner; a mean is fsum(per-query values) / queries.

    >>> run = daft.from_pydict({"query_id": ["q1", "q1"], "doc_id": ["d1", "d2"], "score": [2.0, 1.0]})
    >>> qrels = daft.from_pydict({"query_id": ["q1"], "doc_id": ["d2"], "relevance": [1]})
    >>> evaluate(run, qrels, ["P@1", "RR"]).aggregate
    {'P@1': 0.0, 'RR': 0.5}
    """
    parsed = parse_measures(measures)
    if queries not in ("qrels", "both"):
        raise DataError(f"queries must be 'qrels' or 'both', not {queries!r}")
    if empty not in ("nan", "error"):
        raise DataError(f"empty must be 'nan' or 'error', not {empty!r}")
    # run and qrels are small: hold them in the driver once (every step below reads them; see materialize)
    S.require_columns(qrels, S.QRELS, "qrels")
    S.require_integers(qrels, S.RELEVANCE, "qrels")  # the cast below would truncate 1.5 to 1
    qrels = materialize(S.conform(qrels, S.QRELS, "qrels"))
    S.require_values(qrels, S.QRELS, "qrels")  # a relevance that is not an integer would count as non-relevant
    run = materialize(S.conform(run, {c: S.RUN[c] for c in (S.QUERY_ID, S.DOC_ID, S.SCORE)}, "run"))
    S.require_values(run, [S.QUERY_ID, S.DOC_ID, S.SCORE], "run")  # a null or NaN score would rank first
    S.require_unique_pairs(qrels, "qrels", "judges", "keep one judgement per (query_id, doc_id)")
    fix = "judged or not (trec_eval refuses that): keep one row per (query_id, doc_id)"
    S.require_unique_pairs(run, "run", "lists", fix)
    names = [str(m) for m in parsed]
    base = qrels.select(S.QUERY_ID).distinct()
    if queries == "both":
        base = base.join(run.select(S.QUERY_ID).distinct(), on=S.QUERY_ID)
    base = materialize(base)
    groups: dict[bool, list[Measure]] = {}
    for m in parsed:  # the measures with judged_only=True read their own (condensed) ranking
        groups.setdefault(m.judged_only, []).append(m)
    wide = base
    for judged_only, group in groups.items():
        if judged_only:
            ranked = _condensed(run, qrels, depth, _depth(group, None))
        else:
            ranked = rank_run(run, _depth(group, depth))
        wide = wide.join(_values(ranked, qrels, base, group), on=S.QUERY_ID)
    wide = materialize(wide.select(S.QUERY_ID, *names))

    values = wide.select(*names).to_pydict()
    if not wide.count_rows():
        _no_queries(run, qrels, queries, empty)
    # each family's aggregate of its per-query values (the exactly rounded mean, unless it says otherwise: gm_map)
    aggregate = {str(m): m.family.aggregate(m, values[str(m)]) for m in parsed}
    per_query = wide.unpivot(S.QUERY_ID, names, variable_name=S.MEASURE, value_name=S.VALUE)
    per_query = per_query.select(*[col(c).cast(t) for c, t in S.PER_QUERY.items()])
    per_query = materialize(per_query.sort([S.QUERY_ID, S.MEASURE]))  # in query order, to read in IPython
    return Evaluation(per_query, aggregate)
