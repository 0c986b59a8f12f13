"""Cross-encoder scoring as a Daft class: sentence-transformers ``CrossEncoder`` over (query, passage) pairs.

score(q, d) = the model's relevance logit for the pair (Nogueira & Cho, "Passage Re-ranking with BERT", 2019).
The model is a local path or a hub id (e.g. ``cross-encoder/ms-marco-MiniLM-L6-v2`` for users online); it loads
in ``__init__`` on the worker, once per process.

    >>> scorer = CrossEncoderScorer("cross-encoder/ms-marco-MiniLM-L6-v2")  # doctest: +SKIP
    >>> pairs.with_column("score", scorer.score(col("query"), col("document")))  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import daft
import numpy as np
from daft import DataType

from daft_retrieval import schema as S
from daft_retrieval.encode.descriptor import Encoder, ModelConfig
from daft_retrieval.progress import Progress

__all__ = ["CrossConfig", "CrossEncoderScorer"]

POSITION, QUERY, DOCUMENT = "position", "query", "document"  # score_groups: its pairs' fields (as rerank names them)
GROUP_SCORES = DataType.list(
    DataType.struct({S.QUERY_ID: DataType.string(), S.DOC_ID: DataType.string(), S.SCORE: DataType.float64()})
)


@dataclass(frozen=True, kw_only=True)
class CrossConfig(ModelConfig):
    """Model and run options of a cross-encoder (``max_length``: tokens per pair, None = the model's). A
    cross-encoder scores pairs: it has no vector size and no cache entry."""

    max_length: int | None = None

    kind: ClassVar[str] = "cross"
    weights: ClassVar[str] = "cross"
    positive: ClassVar[tuple[str, ...]] = ("max_length",)

    def construct(self, path: str, device: str) -> Any:
        from sentence_transformers import CrossEncoder

        return CrossEncoder(path, device=device, max_length=self.max_length)

    def half(self, model: Any) -> Any:
        model.model.half()
        return model

    def configure(self, model: Any) -> None:
        """Nothing beyond construction (``max_length`` is a constructor argument)."""

    def load_key(self) -> tuple:
        return (self.weights, self.model, self.device, self.fp16, self.max_length)

    def dimensions(self) -> None:
        """None: a cross-encoder gives one score per pair, no vector."""
        return None


class _CrossScorer:
    """The worker side of :class:`CrossEncoderScorer` (run by ``daft.cls``)."""

    def __init__(self, config: CrossConfig) -> None:
        self.config = config
        self.model, self.lock = config.build()
        self.progress = Progress(f"reranking with {config.model}")

    @daft.method.batch(return_dtype=DataType.float64(), batch_size=256)
    def score(self, queries: daft.Series, documents: daft.Series) -> np.ndarray:
        """The model's score of each (query text, document text) row."""
        pairs = [(q or "", d or "") for q, d in zip(queries.to_pylist(), documents.to_pylist())]
        with self.lock, self.config.precision():
            scores = self.model.predict(
                pairs, batch_size=self.config.batch_size, convert_to_numpy=True, show_progress_bar=False
            )
        self.progress.add(len(pairs))
        return np.asarray(scores, dtype=np.float64).reshape(len(pairs), -1)[:, 0]

    @daft.method.batch(return_dtype=GROUP_SCORES, batch_size=4)
    def score_groups(self, groups: daft.Series) -> list:
        """Per row, one group of pairs (``list<struct{position, query_id, doc_id, query, document}>``) scored as
        one model batch, in position order: a pair's score then depends on its group only, not on the rows Daft
        happened to batch with it (the padded length changes the last bits)."""
        out = []
        for group in groups.to_pylist():
            rows = sorted(group or [], key=lambda r: r[POSITION])
            pairs = [(r[QUERY] or "", r[DOCUMENT] or "") for r in rows]
            with self.lock, self.config.precision():
                scores = self.model.predict(
                    pairs, batch_size=max(1, len(pairs)), convert_to_numpy=True, show_progress_bar=False
                )
            scores = np.asarray(scores, dtype=np.float64).reshape(len(pairs), -1)[:, 0].tolist()
            out.append([{S.QUERY_ID: r[S.QUERY_ID], S.DOC_ID: r[S.DOC_ID], S.SCORE: v} for r, v in zip(rows, scores)])
            self.progress.add(len(pairs))
        return out


class CrossEncoderScorer(Encoder):
    """A cross-encoder as a Daft class: ``score(queries, documents)`` and ``score_groups(groups)`` are column
    expressions. ``model``: a spec or a :class:`CrossConfig`; ``options``: its fields (checked now, nothing
    loads)."""

    config_type = CrossConfig
    worker = _CrossScorer

    def score(self, queries: daft.Expression, documents: daft.Expression) -> daft.Expression:
        """The model's score of each (query text, document text) row."""
        return self.udf.score(queries, documents)

    def score_groups(self, groups: daft.Expression) -> daft.Expression:
        """Each row's group of pairs scored as one model batch (see the worker's ``score_groups``)."""
        return self.udf.score_groups(groups)
