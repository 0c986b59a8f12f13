"""Token embeddings for late interaction (ColBERT-style) as a Daft class.

``TokenEncoder(model)`` returns, for each text, the L2-normalised contextual embedding of every token (special
tokens included, padding dropped) as one flat ``list<float32>`` row of ``n_tokens x dim`` values. The model is a
sentence-transformers model: its ``Dense`` layers, if any (a ColBERT projection, e.g. 768 -> 128), are applied to
every token, and ``query_prefix``/``document_prefix`` are ColBERT's markers when the checkpoint has them ("[Q] ",
"[D] "). Queries may be cut at ``query_length`` tokens (ColBERT: 32). Score with MaxSim
(:func:`daft_retrieval.score.maxsim.maxsim`; Khattab & Zaharia, SIGIR 2020).

    >>> enc = TokenEncoder("all-MiniLM-L6-v2")
    >>> df.with_column("tokens", enc.embed_documents(daft.col("text")))  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

import daft
import numpy as np
import pyarrow as pa
from daft import DataType

from daft_retrieval.device import per_device
from daft_retrieval.encode.dense import BATCH_ROWS, DenseConfig, load_model, model_and_lock
from daft_retrieval.errors import DataError
from daft_retrieval.progress import Progress

if TYPE_CHECKING:
    from daft_retrieval.cache.store import EmbeddingCache

__all__ = ["TOKENS", "TokenConfig", "TokenEncoder", "token_dim", "token_encoder", "token_vectors", "unflatten"]

TOKENS = "tokens"  # the column of flat token matrices
TOKEN_MATRIX = DataType.list(DataType.float32())


def unflatten(column: pa.ChunkedArray | pa.Array, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(every row's token vectors stacked, ``n x dim``; row starts, ``rows + 1``) of a column of flat token
    matrices: row i's tokens are ``matrix[starts[i]:starts[i + 1]]`` (none for a null row). No copy for float32.

    >>> matrix, starts = unflatten(pa.array([[1.0, 0.0, 0.0, 1.0], [0.6, 0.8]], pa.list_(pa.float32())), 2)
    >>> matrix.shape, starts.tolist()
    ((3, 2), [0, 2, 3])
    """
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    offsets = np.asarray(array.offsets, dtype=np.int64)
    values = array.values.to_numpy(zero_copy_only=False)[offsets[0] : offsets[-1]]
    return values.astype(np.float32, copy=False).reshape(-1, dim), (offsets - offsets[0]) // dim


@dataclass(frozen=True)
class TokenConfig:
    """What decides a token embedding (and its cache key): model, markers, lengths, device."""

    model: str = "all-MiniLM-L6-v2"
    device: str | None = None
    fp16: bool = False
    batch_size: int = 32
    max_seq_length: int | None = None
    query_length: int | None = None
    query_prefix: str = ""
    document_prefix: str = ""

    def __post_init__(self) -> None:
        DenseConfig(model=self.model, device=self.device, batch_size=self.batch_size)  # same checks
        if self.query_length is not None and self.query_length < 1:
            raise DataError(f"query_length must be >= 1, not {self.query_length}")

    def dense(self) -> DenseConfig:
        """The loading part, shared with :class:`DenseConfig` (one model in memory for both)."""
        return DenseConfig(self.model, self.device, self.fp16, max_seq_length=self.max_seq_length)

    def as_dict(self) -> dict:
        return asdict(self)


def dense_module() -> type:
    """sentence-transformers' ``Dense`` module class (moved in version 6)."""
    try:
        from sentence_transformers.sentence_transformer.modules import Dense
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import Dense
    return Dense


def _projection(model) -> list:
    """The model's ``Dense`` modules (sentence-transformers applies them to the pooled vector only)."""
    return [module for module in model if isinstance(module, dense_module())]


def token_dim(config: TokenConfig) -> int:
    """Dimension of the token vectors of ``config`` (after any projection); loads the model."""
    model = load_model(config.dense())
    layers = _projection(model)
    if layers:
        return layers[-1].out_features
    first = model[0]
    get = getattr(first, "get_embedding_dimension", None) or first.get_word_embedding_dimension
    return get()


class _TokenEncoder:
    """Worker side; wrapped by ``daft.cls`` below."""

    def __init__(self, config: TokenConfig) -> None:
        self.config = config
        self.model, self._lock = model_and_lock(config.dense())  # calls take turns with the dense encoder's
        self.layers = _projection(self.model)
        self.progress: dict[str, Progress] = {}

    def _encode(self, texts: list[str], role: str) -> list[np.ndarray]:
        import torch

        c = self.config
        prefix = c.query_prefix if role == "query" else c.document_prefix
        if role not in self.progress:
            self.progress[role] = Progress(f"encoding {role} tokens with {c.model}")
        with self._lock, torch.inference_mode():
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
        """Token vectors of document texts, flattened (``n_tokens x dim``)."""
        return self._encode([t or "" for t in texts.to_pylist()], "document")

    @daft.method.batch(return_dtype=TOKEN_MATRIX, batch_size=BATCH_ROWS)
    def embed_queries(self, texts: daft.Series) -> list:
        """Token vectors of query texts, flattened (``n_tokens x dim``)."""
        return self._encode([t or "" for t in texts.to_pylist()], "query")


_TOKEN_ENCODER = per_device(_TokenEncoder, "TokenEncoder")


def token_encoder(config: TokenConfig):
    """A Daft token encoder for ``config`` (one GPU requested when the device is CUDA)."""
    return _TOKEN_ENCODER(config.device)(config)


def token_vectors(
    frame: daft.DataFrame,
    key: str,
    text: daft.Expression,
    config: TokenConfig,
    *,
    role: str,
    cache: EmbeddingCache | None = None,
) -> daft.DataFrame:
    """``key, tokens`` (flat token matrices) of a text column; with a ``cache``, only its misses are encoded."""
    from daft import col

    from daft_retrieval.cache.cached import encode_column
    from daft_retrieval.cache.store import VALUE

    encoder = token_encoder(config)
    method = encoder.embed_queries if role == "query" else encoder.embed_documents
    out = encode_column(frame, key, text, method, kind="tokens", config=config, role=role, cache=cache)
    return out.select(col(key), col(VALUE).alias(TOKENS))


def TokenEncoder(model: str = "all-MiniLM-L6-v2", **options) -> object:
    """A Daft token encoder for ``model``; options as :class:`TokenConfig` (checked now, nothing loads)."""
    return token_encoder(replace(TokenConfig(), model=model, **options))
