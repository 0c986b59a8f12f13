"""Dense bi-encoder as a Daft class: sentence-transformers models applied as column expressions.

``DenseEncoder(model)`` is light: it holds a validated, picklable :class:`DenseConfig`. The model loads lazily
in ``__init__`` on each worker, once per process (a process-wide registry shares it between the call sites and
threads Daft creates), and its batch methods embed a text column:

    >>> enc = DenseEncoder("all-MiniLM-L6-v2")
    >>> df = daft.from_pydict({"text": ["a cat", "a dog"]})
    >>> df.with_column("v", enc.embed_queries(daft.col("text"))).collect()  # doctest: +SKIP

Queries and documents use the model's own ``query``/``document`` prompts (sentence-transformers >= 5
``encode_query``/``encode_document``) unless prompts are given. Embeddings come back as ``list<float32>`` rows;
:func:`daft_retrieval.encode.embed.embed_texts` casts them to ``Embedding[float32, dim]`` once ``dim`` is known.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, replace

import daft
import numpy as np
from daft import DataType

from daft_retrieval.device import check_device, per_device, torch_device
from daft_retrieval.encode.models import loading, resolve_model
from daft_retrieval.errors import DataError
from daft_retrieval.memo import load_once
from daft_retrieval.progress import Progress

__all__ = ["BATCH_ROWS", "DenseConfig", "DenseEncoder", "dense_encoder", "load_model", "model_and_lock"]

BATCH_ROWS = 512  # rows per Daft batch; sentence-transformers sorts each batch by length to cut padding


@dataclass(frozen=True)
class DenseConfig:
    """Everything that decides an embedding: with the model's weights, the cache key of issue #6.

    ``device``: "cpu", "cuda", "cuda:1", ... (None: cuda when available). ``fp16`` halves the model on CUDA.
    ``query_prompt``/``document_prompt``: None uses the model's own prompts; "" uses none.
    """

    model: str = "all-MiniLM-L6-v2"
    device: str | None = None
    fp16: bool = False
    normalize: bool = True
    batch_size: int = 32
    max_seq_length: int | None = None
    query_prompt: str | None = None
    document_prompt: str | None = None

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise DataError(f"batch_size must be >= 1, not {self.batch_size}")
        if self.max_seq_length is not None and self.max_seq_length < 1:
            raise DataError(f"max_seq_length must be >= 1, not {self.max_seq_length}")
        check_device(self.device)

    def as_dict(self) -> dict:
        return asdict(self)


LOADS: list[tuple] = []  # one entry per model actually loaded in this process (tests count them)
INITS: list[int] = []  # one entry per encoder instance initialised on a worker (thread id)


def _model_key(config: DenseConfig) -> tuple:
    return (config.model, config.device, config.fp16, config.max_seq_length)


def model_and_lock(config: DenseConfig) -> tuple:
    """(SentenceTransformer, the lock its calls take turns on), once per process (:mod:`daft_retrieval.memo`)."""

    def build() -> tuple:
        from sentence_transformers import SentenceTransformer

        device = torch_device(config.device)
        with loading(config.model):
            model = SentenceTransformer(resolve_model(config.model), device=device)
        if config.fp16 and device.startswith("cuda"):
            model = model.half()
        if config.max_seq_length is not None:
            model.max_seq_length = config.max_seq_length
        model.eval()
        LOADS.append(_model_key(config))
        return model, threading.Lock()

    return load_once(("dense", *_model_key(config)), build)


def load_model(config: DenseConfig):
    """The SentenceTransformer for ``config``, loaded once per process and shared (thread-safe)."""
    return model_and_lock(config)[0]


class _Encoder:
    """The worker-side encoder; wrapped by ``daft.cls`` below (CPU and one-GPU variants)."""

    def __init__(self, config: DenseConfig) -> None:
        self.config = config
        # torch already uses every core per call: calls of all instances (call sites, Daft workers) of this
        # process take turns on the model's lock, as two concurrent encodes on the same cores only thrash
        self.model, self._lock = model_and_lock(config)
        INITS.append(threading.get_ident())
        self._progress: dict[str, Progress] = {}

    def _encode(self, texts: list[str], role: str) -> np.ndarray:
        c = self.config
        prompt = c.query_prompt if role == "query" else c.document_prompt
        encode = self.model.encode_query if role == "query" else self.model.encode_document
        kwargs = {"prompt": prompt} if prompt is not None else {}
        if role not in self._progress:
            self._progress[role] = Progress(f"encoding {'queries' if role == 'query' else 'documents'} with {c.model}")
        with self._lock:
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
        """Embed document texts (title + " " + text: see :func:`daft_retrieval.encode.embed.document_text`)."""
        return self._encode([t or "" for t in texts.to_pylist()], "document")

    @daft.method.batch(return_dtype=DataType.list(DataType.float32()), batch_size=BATCH_ROWS)
    def embed_queries(self, texts: daft.Series) -> np.ndarray:
        """Embed query texts."""
        return self._encode([t or "" for t in texts.to_pylist()], "query")


_DENSE_ENCODER = per_device(_Encoder, "DenseEncoder")


def dense_encoder(config: DenseConfig):
    """A Daft encoder instance for ``config``: asks Daft for one GPU when the device is CUDA."""
    return _DENSE_ENCODER(config.device)(config)


def DenseEncoder(model: str = "all-MiniLM-L6-v2", **options) -> object:
    """A Daft encoder for ``model`` (local path, hub id or short name); options as :class:`DenseConfig`.

    Constructing it loads nothing; the options are checked now, so a bad one fails before any work.
    """
    return dense_encoder(replace(DenseConfig(), model=model, **options))
