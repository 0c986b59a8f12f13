"""What every fusion shares: its input runs, checked, and the sum over runs in a fixed order.

A fusion reads each run once (runs are small: held in the driver), and refuses a run whose score is not finite
(inf - inf and inf / inf are NaN, which has no rank) or that lists a document twice for a query (its two scores
would both count). Fused scores are the same bits whatever the partitioning: each (query, doc) gets one column
per run, and those are added in the runs' order, ``((0 + s_1) + s_2) + ...`` (a run without the doc adds 0), as
ranx adds them; Daft's ``sum()`` would add in whatever order partitions deliver the rows. A fusion returns its
run held in the driver (:func:`~daft_retrieval.runner.materialize`): on Daft 0.7.26's Ray runner, plans left
unexecuted over held inputs made each later fusion slower (2 s, 8 s, 41 s, 51 s for four in a row).

    >>> a = daft.from_pydict({"query_id": ["q"], "doc_id": ["d"], "score": [float("inf")]})
    >>> fusion_inputs([a], "rrf")
    Traceback (most recent call last):
    ...
    daft_retrieval.errors.DataError: rrf run 1: query 'q' doc 'd' has score inf; ...
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import daft
from daft import DataType, col, lit
from daft.functions import when

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError
from daft_retrieval.run import check_runs
from daft_retrieval.runner import materialize

__all__ = ["check_scores", "fusion_inputs", "sum_over_runs"]

_RUN = "_run"
RUNS = "_runs"  # sum_over_runs: how many runs hold the (query, doc)


def _score_problem(line: str) -> str | None:
    fields = line.split()
    if len(fields) < 6 or line.lstrip().startswith("#"):
        return None
    try:
        score = float(fields[4])
    except ValueError:
        return None
    return None if math.isfinite(score) else f"the score (field 5) is {fields[4]!r}"


def check_scores(run: daft.DataFrame, what: str, *, path: str | None = None) -> None:
    """Raise a :class:`DataError` naming the first row of ``run`` whose score is null, NaN or infinite (and its
    line, when ``path`` names the TREC run file it was read from).

    >>> check_scores(daft.from_pydict({"query_id": ["q"], "doc_id": ["d"], "score": [1.0]}), "run")
    """
    score = col(S.SCORE).cast(DataType.float64())
    bad = run.where(score.is_null() | score.is_nan() | score.is_inf()).limit(1).to_pylist()
    if not bad:
        return
    row = bad[0]
    fix = "fusion needs a finite score on every line; fix or drop such lines (or fuse with rrf after fixing)"
    if path is not None:
        from daft_retrieval.load.lines import first_bad_line

        found = first_bad_line(path, _score_problem)
        if found is not None:
            number, line, problem = found
            raise DataError(f"{path}:{number}: {problem}: {line[:120]!r}; {fix}")
    raise DataError(f"{what}: query {row[S.QUERY_ID]!r} doc {row[S.DOC_ID]!r} has score {row[S.SCORE]}; {fix}")


def fusion_inputs(runs: Sequence[daft.DataFrame], what: str) -> list[daft.DataFrame]:
    """``runs`` checked (see the module doc) and held in the driver as ``query_id, doc_id, score`` (float64; a
    score of -0.0 becomes 0.0, so no sign of zero depends on which row a min or max met first)."""
    checked = []
    for i, run in enumerate(check_runs(runs, what), start=1):
        name = f"{what} run {i}"
        frame = materialize(
            run.select(
                col(S.QUERY_ID).cast(DataType.string()),
                col(S.DOC_ID).cast(DataType.string()),
                col(S.SCORE).cast(DataType.float64()),
            )
        )
        check_scores(frame, name)
        fix = "a run ranks each document once per query: keep one row per (query_id, doc_id)"
        S.require_unique_pairs(frame, name, "lists", fix)
        score = col(S.SCORE)
        checked.append(frame.with_column(S.SCORE, when(score == 0.0, lit(0.0)).otherwise(score)))
    return checked


def sum_over_runs(parts: Sequence[daft.DataFrame]) -> daft.DataFrame:
    """``query_id, doc_id, score, _runs``: per (query, doc), the sum of its ``score`` over ``parts`` added in the
    parts' order (a part without the doc adds 0), and how many parts hold it. Each part holds a (query, doc) once.

    >>> a = daft.from_pydict({"query_id": ["q", "q"], "doc_id": ["d1", "d2"], "score": [0.5, 0.25]})
    >>> b = daft.from_pydict({"query_id": ["q"], "doc_id": ["d2"], "score": [1.0]})
    >>> sum_over_runs([a, b]).sort("doc_id").to_pydict()["score"]
    [0.5, 1.25]
    """
    stacked = None
    for i, part in enumerate(parts):
        tagged = part.select(S.QUERY_ID, S.DOC_ID, col(S.SCORE).cast(DataType.float64()), lit(i).alias(_RUN))
        stacked = tagged if stacked is None else stacked.concat(tagged)
    if stacked is None:
        raise DataError("a fusion needs at least one run")
    columns = [f"_score_{i}" for i in range(len(parts))]
    # one value per (query, doc, run): max() of one value is that value, whatever the partitioning
    per_run = stacked.groupby(S.QUERY_ID, S.DOC_ID).agg(
        *[when(col(_RUN) == i, col(S.SCORE)).otherwise(None).max().alias(c) for i, c in enumerate(columns)]
    )
    total, present = lit(0.0), lit(0)
    for c in columns:
        total = total + col(c).fill_null(0.0)
        present = present + col(c).not_null().cast(DataType.int64())
    total = when(total == 0.0, lit(0.0)).otherwise(total)  # no -0.0
    return per_run.select(S.QUERY_ID, S.DOC_ID, total.alias(S.SCORE), present.alias(RUNS))
