"""Token embeddings for late interaction (ColBERT-style) as a Daft class.

``TokenEncoder(model)`` returns, for each text, the L2-normalised contextual embedding of every token (special
tokens included, padding dropped) as one flat ``list<float32>`` row of ``n_tokens x dim`` values. Through
:func:`~daft_retrieval.encode.column.encode` (and the embedding cache) they are kept as fp16 and read back as fp32.
The model is a sentence-transformers model: its ``Dense`` layers, if any (a ColBERT projection, e.g. 768 -> 128),
are applied to every token, and ``query_prefix``/``document_prefix`` are ColBERT's markers when the checkpoint has
them ("[Q] ", "[D] "). Queries may be cut at ``query_length`` tokens (ColBERT: 32). Score with MaxSim
(:func:`daft_retrieval.score.maxsim.maxsim`; Khattab & Zaharia, SIGIR 2020).

    >>> enc = TokenEncoder("all-MiniLM-L6-v2", query_length=32)
    >>> enc.config.kind, enc.config.dimensions()
    ('tokens', 384)
    >>> df.with_column("tokens", enc.embed_documents(daft.col("text")))  # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

import daft
import numpy as np
from daft import DataType

from daft_retrieval import registry
from daft_retrieval import schema as S
from daft_retrieval.encode.dense import BATCH_ROWS, DenseConfig
from daft_retrieval.encode.descriptor import Encoder, ModelConfig, hidden_size, read_json, st_modules
from daft_retrieval.progress import Progress

__all__ = ["TokenConfig", "TokenEncoder"]

TOKEN_MATRIX = DataType.list(DataType.float32())


@dataclass(frozen=True, kw_only=True)
class TokenConfig(ModelConfig):
    """What decides a token embedding (and its cache key): model, markers, lengths, device. ``query_length``:
    query tokens kept (ColBERT: 32; None: all). The model loads as the dense model of the same spec, device,
    ``fp16`` and ``max_seq_length`` (one copy in memory for both)."""

    max_seq_length: int | None = None
    query_length: int | None = None
    query_prefix: str = ""
    document_prefix: str = ""

    kind: ClassVar[str] = "tokens"
    default_model: ClassVar[str] = registry.RETRIEVERS.entry("late").info["default_model"]
    weights: ClassVar[str] = "dense"
    positive: ClassVar[tuple[str, ...]] = ("max_seq_length", "query_length")
    stored_dtype: ClassVar[str] = "float16"  # token vectors are cached (and encoded) as fp16: half the bytes

    def construct(self, path: str, device: str) -> Any:
        return DenseConfig.construct(self, path, device)  # type: ignore[arg-type]

    def folder_dimensions(self, folder: str) -> int | None:
        """The last ``Dense`` layer's ``out_features`` (a ColBERT projection), else the transformer's hidden size
        (pooling and normalisation act on the pooled vector only); None at a module it does not know."""
        dim = None
        for name, path in st_modules(folder) or []:
            here = os.path.join(folder, path)
            if name == "Transformer":
                dim = hidden_size(here)
            elif name == "Dense":
                dim = (read_json(here, "config.json") or {}).get("out_features")
            elif name not in ("Pooling", "Normalize"):
                return None
        return dim if isinstance(dim, int) else None

    def model_dimensions(self, model: Any) -> int | None:
        layers = projection(model)
        if layers:
            return layers[-1].out_features
        first = model[0]
        get = getattr(first, "get_embedding_dimension", None) or first.get_word_embedding_dimension
        return get()


def dense_module() -> type:
    """sentence-transformers' ``Dense`` module class (moved in version 6)."""
    try:
        from sentence_transformers.sentence_transformer.modules import Dense
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import Dense
    return Dense


def projection(model) -> list:
    """The model's ``Dense`` modules (sentence-transformers applies them to the pooled vector only)."""
    return [module for module in model if isinstance(module, dense_module())]


class _TokenWorker:
    """The worker side of :class:`TokenEncoder` (run by ``daft.cls``)."""

    def __init__(self, config: TokenConfig) -> None:
        self.config = config
        self.model, self._lock = config.build()  # calls take turns with the dense encoder's
        self.layers = projection(self.model)
        self.progress: dict[str, Progress] = {}

    def _encode(self, texts: list[str], role: str) -> list[np.ndarray]:
        import torch

        c = self.config
        prefix = c.query_prefix if role == "query" else c.document_prefix
        if role not in self.progress:
            self.progress[role] = Progress(f"encoding {role} tokens with {c.model}")
        with self._lock, torch.inference_mode(), c.precision():
            per_text = self.model.encode(
                [prefix + t for t in texts],
                output_value="token_embeddings",
                batch_size=c.batch_size,
                convert_to_numpy=False,
                show_progress_bar=False,
            )
            out = []
            for tokens in per_text:
                if role == "query" and c.query_length is not None:
                    tokens = tokens[: c.query_length]
                for layer in self.layers:
                    tokens = layer({"sentence_embedding": tokens})["sentence_embedding"]
                tokens = torch.nn.functional.normalize(tokens.float(), dim=-1)
                out.append(tokens.cpu().numpy().astype(np.float32).ravel())
        self.progress[role].add(len(texts))
        return out

    @daft.method.batch(return_dtype=TOKEN_MATRIX, batch_size=BATCH_ROWS)
    def embed_documents(self, texts: daft.Series) -> list:
        return self._encode([t or "" for t in texts.to_pylist()], "document")

    @daft.method.batch(return_dtype=TOKEN_MATRIX, batch_size=BATCH_ROWS)
    def embed_queries(self, texts: daft.Series) -> list:
        return self._encode([t or "" for t in texts.to_pylist()], "query")


class TokenEncoder(Encoder):
    """A token model as a Daft class: ``embed_documents(texts)``/``embed_queries(texts)`` give each text's
    L2-normalised token vectors, flattened (``n_tokens x dim`` float32). ``model``: a spec or a
    :class:`TokenConfig`; ``options``: its fields (checked now, nothing loads)."""

    config_type = TokenConfig
    worker = _TokenWorker
    column = S.TOKENS
    chunk_rows: ClassVar[int] = BATCH_ROWS  # 512 texts of 256 tokens x 384 dims: 100 MB of fp16 per chunk
    roles: ClassVar[dict[str, str]] = {"document": "embed_documents", "query": "embed_queries"}
    embed_documents = Encoder.documents
    embed_queries = Encoder.queries

    def stored(self, value: daft.Expression) -> daft.Expression:
        """The token vectors as fp16 (``list<float16>``): what the cache stores, half of fp32, with or without a
        cache (the same vectors either way); unit vectors keep about 3 significant digits (relative error <= 2^-11
        per value)."""
        return value.cast(DataType.list(DataType.float16()))

    def output(self, frame: daft.DataFrame) -> daft.DataFrame:
        """The stored fp16 token vectors back as ``list<float32>`` (what MaxSim and the late index read)."""
        return frame.with_column(S.TOKENS, daft.col(S.TOKENS).cast(TOKEN_MATRIX))
