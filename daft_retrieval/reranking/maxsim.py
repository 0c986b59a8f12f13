"""MaxSim scoring of passages against the queries that retrieved them, as a Daft class (late-interaction rerank).

The query token matrices are few and small, so the scorer holds them; each row is one passage (its flat token
vectors) with the ids of its candidate queries, and the batch method returns ``list<struct{query_id, score}>``.

    >>> scorer = MaxSimScorer({"q1": q1_tokens}, dim=128)  # doctest: +SKIP
    >>> docs.select("doc_id", scorer.score(col("tokens"), col("query_ids")))  # doctest: +SKIP
"""

from __future__ import annotations

import daft
import numpy as np
from daft import DataType

from daft_retrieval import schema as S
from daft_retrieval.score.maxsim import maxsim, unflatten

__all__ = ["MaxSimScorer"]

SCORED = DataType.list(DataType.struct({S.QUERY_ID: DataType.string(), S.SCORE: DataType.float64()}))


@daft.cls(name_override="MaxSimScorer")
class MaxSimScorer:
    """MaxSim(query, passage) for each passage row and each of its query ids (``dim``: token vector size)."""

    def __init__(self, query_tokens: dict[str, np.ndarray], dim: int) -> None:
        self.queries, self.dim = query_tokens, dim

    @daft.method.batch(return_dtype=SCORED, batch_size=64)
    def score(self, tokens: daft.Series, query_ids: daft.Series) -> list:
        matrix, starts = unflatten(tokens.to_arrow(), self.dim)
        out = []
        for i, (valid, ids) in enumerate(zip(tokens.not_null().to_pylist(), query_ids.to_pylist())):
            if not valid or ids is None:
                out.append(None)
                continue
            document = matrix[starts[i] : starts[i + 1]]
            out.append([{S.QUERY_ID: q, S.SCORE: maxsim(self.queries[q], document)} for q in ids if q in self.queries])
        return out
