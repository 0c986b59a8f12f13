"""Cross-encoder scoring as a Daft class: sentence-transformers ``CrossEncoder`` over (query, passage) pairs.

score(q, d) = the model's relevance logit for the pair (Nogueira & Cho, "Passage Re-ranking with BERT", 2019).
The model is a local path or a hub id (e.g. ``cross-encoder/ms-marco-MiniLM-L6-v2`` for users online); it loads
in ``__init__`` on the worker, once per process.

    >>> scorer = CrossEncoderScorer("cross-encoder/ms-marco-MiniLM-L6-v2")  # doctest: +SKIP
    >>> pairs.with_column("score", scorer.score(col("query"), col("document")))  # doctest: +SKIP
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, replace

import daft
import numpy as np
from daft import DataType

from daft_retrieval import schema as S
from daft_retrieval.device import per_device, torch_device
from daft_retrieval.encode.dense import DenseConfig
from daft_retrieval.encode.models import loading, resolve_model
from daft_retrieval.memo import load_once
from daft_retrieval.progress import Progress

__all__ = ["CrossConfig", "CrossEncoderScorer"]

POSITION, QUERY, DOCUMENT = "position", "query", "document"  # score_groups: its pairs' fields (as rerank names them)
GROUP_SCORES = DataType.list(
    DataType.struct({S.QUERY_ID: DataType.string(), S.DOC_ID: DataType.string(), S.SCORE: DataType.float64()})
)


@dataclass(frozen=True)
class CrossConfig:
    """Model and run options of a cross-encoder (``max_length``: tokens per pair, None = the model's)."""

    model: str
    device: str | None = None
    fp16: bool = False
    batch_size: int = 32
    max_length: int | None = None

    def __post_init__(self) -> None:
        DenseConfig(model=self.model, device=self.device, batch_size=self.batch_size)  # same checks

    def as_dict(self) -> dict:
        return asdict(self)


def _load(config: CrossConfig) -> tuple:
    """(CrossEncoder, the lock its calls take turns on), once per process (:mod:`daft_retrieval.memo`)."""

    def build() -> tuple:
        from sentence_transformers import CrossEncoder

        device = torch_device(config.device)
        with loading(config.model):
            model = CrossEncoder(resolve_model(config.model), device=device, max_length=config.max_length)
        if config.fp16 and device.startswith("cuda"):
            model.model.half()
        return model, threading.Lock()

    return load_once(("cross", config.model, config.device, config.fp16, config.max_length), build)


class _CrossScorer:
    def __init__(self, config: CrossConfig) -> None:
        self.config = config
        self.model, self.lock = _load(config)
        self.progress = Progress(f"reranking with {config.model}")

    @daft.method.batch(return_dtype=DataType.float64(), batch_size=256)
    def score(self, queries: daft.Series, documents: daft.Series) -> np.ndarray:
        """The model's score of each (query text, document text) row."""
        pairs = [(q or "", d or "") for q, d in zip(queries.to_pylist(), documents.to_pylist())]
        with self.lock:
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
            with self.lock:
                scores = self.model.predict(
                    pairs, batch_size=max(1, len(pairs)), convert_to_numpy=True, show_progress_bar=False
                )
            scores = np.asarray(scores, dtype=np.float64).reshape(len(pairs), -1)[:, 0].tolist()
            out.append([{S.QUERY_ID: r[S.QUERY_ID], S.DOC_ID: r[S.DOC_ID], S.SCORE: v} for r, v in zip(rows, scores)])
            self.progress.add(len(pairs))
        return out


_CROSS_SCORER = per_device(_CrossScorer, "CrossEncoderScorer")


def CrossEncoderScorer(model: str, **options) -> object:
    """A Daft cross-encoder for ``model``; options as :class:`CrossConfig` (checked now, nothing loads)."""
    config = replace(CrossConfig(model), **options)
    return _CROSS_SCORER(config.device)(config)
