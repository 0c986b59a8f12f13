"""Dense bi-encoder: a sentence-transformers model whose Daft class embeds a text column.

``DenseEncoder(model)`` is light: it holds a validated, picklable :class:`DenseConfig` (a
:class:`~daft_retrieval.encode.descriptor.ModelConfig`). The model loads on each worker, once per process (shared
by the call sites and threads Daft creates), and the batch methods embed a text column:

    >>> enc = DenseEncoder("all-MiniLM-L6-v2")
    >>> enc
    DenseEncoder(DenseConfig(model='all-MiniLM-L6-v2', device=None, fp16=False, batch_size=32, amp=False, max_seq_length=None, normalize=True, query_prompt=None, document_prompt=None))
    >>> df = daft.from_pydict({"text": ["a cat", "a dog"]})
    >>> df.with_column("v", enc.embed_queries(daft.col("text"))).collect()  # doctest: +SKIP

Queries and documents use the model's own ``query``/``document`` prompts (sentence-transformers >= 5
``encode_query``/``encode_document``) unless prompts are given. Embeddings come back as ``list<float32>`` rows;
:func:`daft_retrieval.encode.column.encode` gives them as ``Embedding[float32, dim]``.
"""  # noqa: E501

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

import daft
import numpy as np
from daft import DataType, col

from daft_retrieval import registry
from daft_retrieval import schema as S
from daft_retrieval.encode.descriptor import Encoder, ModelConfig, hidden_size, read_json, st_modules
from daft_retrieval.progress import Progress

__all__ = ["BATCH_ROWS", "DEFAULT_MODEL", "DenseConfig", "DenseEncoder"]

BATCH_ROWS = 512  # rows per Daft batch; sentence-transformers sorts each batch by length to cut padding
DEFAULT_MODEL = registry.RETRIEVERS.entry("dense").info["default_model"]  # all-MiniLM-L6-v2: the CLI's too
_POOLING_MODES = (
    "pooling_mode_cls_token",
    "pooling_mode_mean_tokens",
    "pooling_mode_max_tokens",
    "pooling_mode_mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens",
    "pooling_mode_lasttoken",
)


@dataclass(frozen=True, kw_only=True)
class DenseConfig(ModelConfig):
    """Everything that decides an embedding: with the model's weights, its cache key.

    ``max_seq_length``: tokens per text (None: the model's). ``normalize``: unit-length vectors (cosine = dot).
    ``query_prompt``/``document_prompt``: None uses the model's own prompts; "" uses none.
    """

    max_seq_length: int | None = None
    normalize: bool = True
    query_prompt: str | None = None
    document_prompt: str | None = None

    kind: ClassVar[str] = "dense"
    default_model: ClassVar[str] = DEFAULT_MODEL
    weights: ClassVar[str] = "dense"
    positive: ClassVar[tuple[str, ...]] = ("max_seq_length",)

    def construct(self, path: str, device: str) -> Any:
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(path, device=device)

    def folder_dimensions(self, folder: str) -> int | None:
        """Module by module: the transformer's hidden size, times the pooling modes, then each ``Dense`` layer's
        ``out_features`` (``Normalize`` keeps it); None at a module it does not know."""
        modules = st_modules(folder)
        dim = None
        for name, path in modules or []:
            here = os.path.join(folder, path)
            if name == "Transformer":
                dim = hidden_size(here)
            elif name == "Pooling":
                dim = _pooled_dimensions(read_json(here, "config.json"))
            elif name == "Dense":
                dim = (read_json(here, "config.json") or {}).get("out_features")
            elif name != "Normalize":
                return None
            if not isinstance(dim, int):
                return None
        return dim

    def model_dimensions(self, model: Any) -> int | None:
        get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension  # ST 6: new
        return get()


def _pooled_dimensions(config: object) -> int | None:
    """The pooled vector's size from a ``Pooling`` config: the token size times the modes concatenated (the
    ``pooling_mode_*`` flags of sentence-transformers < 6, or its ``pooling_mode`` name or list since 6)."""
    if not isinstance(config, dict):
        return None
    size = config.get("word_embedding_dimension", config.get("embedding_dimension"))
    if "pooling_mode" in config:
        mode = config["pooling_mode"]
        modes = 1 if isinstance(mode, str) else len(mode) if isinstance(mode, list) else 0
    else:
        modes = sum(bool(config.get(m)) for m in _POOLING_MODES)
    return size * modes if isinstance(size, int) and modes else None


class _DenseWorker:
    """The worker side of :class:`DenseEncoder` (run by ``daft.cls``)."""

    def __init__(self, config: DenseConfig) -> None:
        self.config = config
        self.model, self._lock = config.build()
        self._progress: dict[str, Progress] = {}

    def _encode(self, texts: list[str], role: str) -> np.ndarray:
        c = self.config
        prompt = c.query_prompt if role == "query" else c.document_prompt
        encode = self.model.encode_query if role == "query" else self.model.encode_document
        kwargs = {"prompt": prompt} if prompt is not None else {}
        if role not in self._progress:
            self._progress[role] = Progress(f"encoding {'queries' if role == 'query' else 'documents'} with {c.model}")
        with self._lock, self.config.precision():
            vectors = encode(
                texts,
                batch_size=c.batch_size,
                normalize_embeddings=c.normalize,
                convert_to_numpy=True,
                show_progress_bar=False,
                **kwargs,
            )
        self._progress[role].add(len(texts))
        return np.ascontiguousarray(vectors, dtype=np.float32)

    @daft.method.batch(return_dtype=DataType.list(DataType.float32()), batch_size=BATCH_ROWS)
    def embed_documents(self, texts: daft.Series) -> np.ndarray:
        return self._encode([t or "" for t in texts.to_pylist()], "document")

    @daft.method.batch(return_dtype=DataType.list(DataType.float32()), batch_size=BATCH_ROWS)
    def embed_queries(self, texts: daft.Series) -> np.ndarray:
        return self._encode([t or "" for t in texts.to_pylist()], "query")


class DenseEncoder(Encoder):
    """A dense model as a Daft class: ``embed_documents(texts)`` and ``embed_queries(texts)`` are column
    expressions of ``list<float32>`` vectors. ``model``: a spec or a :class:`DenseConfig`; ``options``: its fields
    (checked now: a bad one fails before any work; nothing loads in the driver)."""

    config_type = DenseConfig
    worker = _DenseWorker
    column = S.EMBEDDING
    longest_first = True  # (each Daft batch holds texts of similar length; a slow batch shows up at once)
    roles: ClassVar[dict[str, str]] = {"document": "embed_documents", "query": "embed_queries"}
    embed_documents = Encoder.documents
    embed_queries = Encoder.queries

    def output(self, frame: daft.DataFrame) -> daft.DataFrame:
        """The vectors as ``Embedding[float32, dim]``, ``dim`` from the descriptor (no row is probed)."""
        from daft_retrieval.runner import persist

        dim = self.config.dimensions()
        return persist(
            frame.with_column(S.EMBEDDING, col(S.EMBEDDING).cast(DataType.embedding(DataType.float32(), dim)))
        )
