"""Model descriptors: one frozen, picklable, validated object per model, whatever its kind, and the Daft class
that runs it.

A descriptor (:class:`ModelConfig`; :class:`~daft_retrieval.encode.dense.DenseConfig`,
:class:`~daft_retrieval.encode.sparse.SparseConfig`, :class:`~daft_retrieval.encode.tokens.TokenConfig`,
:class:`~daft_retrieval.reranking.cross.CrossConfig`) holds everything that decides what a model computes and
where: the model spec (a local folder, an offline short name or a hub id), ``device``, ``fp16``, ``batch_size``,
lengths and prompts. It is cheap to make and to pickle (no weights), so it travels to Daft's workers and Ray's
actors; there:

- :meth:`~ModelConfig.build` loads the model once per process (:func:`daft_retrieval.memo.load_once`): resolve the
  spec, construct, halve on CUDA when ``fp16`` (:func:`daft_retrieval.device.compute_dtype`), set the maximum
  length, ``eval()``;
- :meth:`~ModelConfig.udf_options` is the Daft resource request (``gpus=1`` for a CUDA device, else none);
- :meth:`~ModelConfig.dimensions` reads the vector size from the model folder's configs (no weights loaded);
- :meth:`~ModelConfig.fingerprint` is its identity in the embedding cache, per role;
- ``kind``: "dense", "sparse", "tokens" or "cross".

An :class:`Encoder` (``DenseEncoder``, ``SparseEncoder``, ``TokenEncoder``, ``CrossEncoderScorer``) wraps a
descriptor in the Daft class of its kind; its methods return column expressions.

    >>> from daft_retrieval.encode.dense import DenseConfig
    >>> config = DenseConfig("all-MiniLM-L6-v2", fp16=True, device="cpu")
    >>> config.kind, config.udf_options(), config.dimensions()
    ('dense', {}, 384)
    >>> DenseConfig.of("all-MiniLM-L6-v2", batch_size=0)
    Traceback (most recent call last):
    ...
    daft_retrieval.errors.DataError: batch_size must be >= 1, not 0
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, TypeVar

from daft_retrieval.device import check_device, compute_dtype, precision, torch_device, wants_gpu
from daft_retrieval.errors import DataError
from daft_retrieval.memo import load_once
from daft_retrieval.resolve import OFFLINE_MODELS, loading, resolve_model

__all__ = ["ROLES", "Encoder", "ModelConfig"]

ROLES = ("document", "query")
C = TypeVar("C", bound="ModelConfig")
_UDF_CLASSES: dict[tuple, type] = {}
_UDF_LOCK = threading.Lock()


@dataclass(frozen=True)
class ModelConfig:
    """What every model takes: ``model`` (None: the kind's default), ``device`` ("cpu", "cuda", "cuda:1", "mps";
    None: CUDA when torch sees one), ``fp16`` (halve the model on CUDA; on CPU it computes fp32),
    ``batch_size`` (texts per model call) and ``amp`` (fp32 weights, calls under ``torch.autocast`` in fp16 on
    CUDA; nothing on CPU). Each kind adds its own fields (keyword-only)."""

    model: str | None = None
    device: str | None = None
    fp16: bool = False
    batch_size: int = 32
    amp: bool = False

    kind: ClassVar[str] = "model"
    default_model: ClassVar[str | None] = None
    weights: ClassVar[str] = "model"  # the loaded weights a process shares (token vectors use the dense model's)
    resolver: ClassVar[Callable[[str], str]] = staticmethod(resolve_model)  # spec -> folder (or hub id)
    positive: ClassVar[tuple[str, ...]] = ()  # optional integer fields that must be >= 1 when given
    stored_dtype: ClassVar[str | None] = None  # the cached values' dtype, if not the computed one (in the key)

    def __post_init__(self) -> None:
        if self.model is None and self.default_model is not None:
            object.__setattr__(self, "model", self.default_model)
        if not isinstance(self.model, str) or not self.model:
            raise DataError(
                f"{type(self).__name__} needs model= (a local folder, an offline short name or a hub id), "
                f"not {self.model!r}"
            )
        check_device(self.device)
        for name in ("batch_size", *self.positive):
            value = getattr(self, name)
            if (value is not None or name == "batch_size") and not (
                isinstance(value, int) and not isinstance(value, bool) and value >= 1
            ):
                raise DataError(f"{name} must be >= 1, not {value}")

    # -- making one -----------------------------------------------------------------------------------------------
    @classmethod
    def of(cls: type[C], model: str | ModelConfig | None = None, **options: Any) -> C:
        """A ``cls`` from a spec string (``model``), a descriptor of this kind (``options`` replace its fields) or
        None (the default model); an unknown option or a descriptor of another kind is a :class:`DataError`.

        >>> from daft_retrieval.encode.dense import DenseConfig
        >>> DenseConfig.of(DenseConfig("all-MiniLM-L6-v2"), max_seq_length=64).max_seq_length
        64
        """
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = [k for k in options if k not in names]
        if unknown:
            raise DataError(f"{cls.__name__} takes no option {unknown[0]!r}; its options: {', '.join(names)}")
        if isinstance(model, ModelConfig):
            if not isinstance(model, cls):
                raise DataError(f"expected a {cls.__name__} (a {cls.kind} model), not {model!r}")
            return dataclasses.replace(model, **options) if options else model
        if model is not None and not isinstance(model, str):
            raise DataError(f"model must be a spec string or a {cls.__name__}, not {model!r}")
        return cls(**({} if model is None else {"model": model}), **options)

    def as_dict(self) -> dict:
        """Every field, JSON-ready (what an index records as its encoder)."""
        return asdict(self)

    # -- on the worker --------------------------------------------------------------------------------------------
    def resolve(self) -> str:
        """What to load: a folder for a local or offline model, else the spec (a hub id)."""
        return self.resolver(self.model)

    def short_names(self) -> dict:
        """Offline short names of this kind, for the message when a model cannot be loaded."""
        return OFFLINE_MODELS

    def construct(self, path: str, device: str) -> Any:
        """The library model for ``path`` on ``device`` (each kind: its sentence-transformers class)."""
        raise NotImplementedError(type(self).__name__)

    def half(self, model: Any) -> Any:
        """``model`` in fp16."""
        return model.half()

    def configure(self, model: Any) -> None:
        """Settings of the loaded ``model`` beyond construction: its maximum sequence length."""
        length = getattr(self, "max_seq_length", None)
        if length is not None:
            model.max_seq_length = length

    def precision(self) -> Any:
        """The context each model call runs in (:func:`daft_retrieval.device.precision`: autocast for ``amp``)."""
        return precision(self.device, self.fp16, self.amp)

    def load_key(self) -> tuple:
        """What decides the loaded weights in memory (not the batch size, prompts or normalisation)."""
        return (self.weights, self.model, self.device, self.fp16, getattr(self, "max_seq_length", None))

    def build(self) -> tuple[Any, threading.Lock]:
        """(the loaded model, the lock its calls take turns on), once per process and shared by every instance and
        thread (torch already uses every core per call: two concurrent calls on the same cores only thrash)."""

        def make() -> tuple[Any, threading.Lock]:
            device = torch_device(self.device)
            with loading(self.model, self.short_names()):
                model = self.construct(self.resolve(), device)
            if compute_dtype(self.device, self.fp16) == "float16":
                model = self.half(model)
            self.configure(model)
            model.eval()
            return model, threading.Lock()

        return load_once(self.load_key(), make)

    # -- for Daft ---------------------------------------------------------------------------------------------------
    def udf_options(self) -> dict:
        """The resource request of the Daft class running this model: one GPU for a CUDA device (on Ray, one actor
        per GPU), none otherwise (a CPU run never waits for a GPU the cluster lacks)."""
        return {"gpus": 1} if wants_gpu(self.device) else {}

    def udf_class(self, worker: type, name: str) -> type:
        """``daft.cls(worker)`` with :meth:`udf_options`, shown as ``name``; made once per (worker, request)."""
        import daft

        options = self.udf_options()
        key = (worker, name, tuple(sorted(options.items())))
        with _UDF_LOCK:
            if key not in _UDF_CLASSES:
                _UDF_CLASSES[key] = daft.cls(worker, name_override=name, **options)
            return _UDF_CLASSES[key]

    # -- what it computes -------------------------------------------------------------------------------------------
    def dimensions(self) -> int | None:
        """The size of the model's vectors (None: it gives no vector, as a cross-encoder), read from the model
        folder's configs; a model whose folder does not say (a hub id, an unknown module) is loaded to ask it."""
        path = self.resolve()
        if os.path.isdir(path):
            found = self.folder_dimensions(path)
            if found is not None:
                return found
        return self.model_dimensions(self.build()[0])

    def folder_dimensions(self, folder: str) -> int | None:
        """The vector size the configs in ``folder`` give (None: they do not say)."""
        return None

    def model_dimensions(self, model: Any) -> int | None:
        """The vector size of the loaded ``model``."""
        return None

    def fingerprint(self, role: str) -> tuple[str, dict]:
        """(16-hex fingerprint, the JSON-ready settings it hashes) of this model embedding texts in ``role``: the
        kind, the weights folder's digest (:func:`daft_retrieval.cache.fingerprint.weights_digest`), the dtype
        actually computed in (fp16 asked on CPU computes fp32: the fp32 entry), the text-hash scheme and every
        field but the device, the batch size and the other role's prompt or markers.

        >>> from daft_retrieval.encode.dense import DenseConfig
        >>> fp, meta = DenseConfig(max_seq_length=32).fingerprint("query")
        >>> meta["kind"], meta["role"], meta["dtype"], len(fp)
        ('dense', 'query', 'float32', 16)
        """
        from daft_retrieval.cache.fingerprint import SCHEME, weights_digest

        if role not in ROLES:
            raise DataError(f"role must be 'document' or 'query', not {role!r}")
        settings = self.as_dict()
        fp16, amp = bool(settings.pop("fp16", False)), bool(settings.pop("amp", False))
        dtype = compute_dtype(settings.get("device"), fp16, amp)  # amp in the dtype only: keys without it stay
        for name in ("device", "batch_size"):  # what never changes the vectors
            settings.pop(name, None)
        other = (
            ("document_prompt", "document_prefix")
            if role == "query"
            else ("query_prompt", "query_prefix", "query_length")
        )
        for name in other:
            settings.pop(name, None)
        weights = weights_digest(settings["model"], self.resolver)
        meta = {"kind": self.kind, "role": role, "scheme": SCHEME, "weights": weights, "dtype": dtype, **settings}
        if self.stored_dtype is not None:  # what the cache holds, when it is not what the model computed
            meta["stored"] = self.stored_dtype
        return hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:16], meta


def read_json(folder: str, *parts: str) -> dict | list | None:
    """The JSON at ``folder/parts`` (None: no such file or not JSON)."""
    path = os.path.join(folder, *parts)
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def st_modules(folder: str) -> list[tuple[str, str]] | None:
    """(module class name, its sub-folder) of a sentence-transformers folder, in order (None: not one)."""
    modules = read_json(folder, "modules.json")
    if not isinstance(modules, list):
        return None
    try:
        return [(str(m["type"]).rsplit(".", 1)[-1], str(m.get("path", ""))) for m in modules]
    except (KeyError, TypeError):
        return None


def hidden_size(folder: str) -> int | None:
    """The transformer's hidden size from ``folder/config.json`` (None: it does not say)."""
    config = read_json(folder, "config.json")
    if not isinstance(config, dict):
        return None
    for key in ("hidden_size", "d_model", "dim", "n_embd"):
        if isinstance(config.get(key), int):
            return config[key]
    return None


class Encoder:
    """A model as a Daft class: holds a validated descriptor (nothing loads in the driver) and, on first use, the
    Daft class instance its methods come from (one per process and thread on the workers, each sharing the model
    :meth:`ModelConfig.build` loaded). ``column`` names what it adds to a frame; ``longest_first``: texts go to it
    longest first (each batch holds texts of similar length: less padding); ``chunk_rows``: at most this many texts
    encoded and committed to the cache at a time (values as big as token matrices); ``roles``: the worker's batch method
    for each role it encodes (each kind names them as users know them: ``embed_queries``, ``encode_queries``)."""

    config_type: ClassVar[type[ModelConfig]] = ModelConfig
    worker: ClassVar[type]
    column: ClassVar[str] = "value"
    longest_first: ClassVar[bool] = False
    chunk_rows: ClassVar[int | None] = None  # texts encoded and committed to the cache at a time (None: its own)
    roles: ClassVar[dict[str, str]] = {}

    def __init__(self, model: str | ModelConfig | None = None, **options: Any) -> None:
        self.config = self.config_type.of(model, **options)
        self._udf: Any = None

    @property
    def udf(self) -> Any:
        """The Daft class instance (``daft.cls`` of the worker, with the descriptor's resource request)."""
        if self._udf is None:
            self._udf = self.config.udf_class(self.worker, type(self).__name__)(self.config)
        return self._udf

    def method(self, role: str) -> Callable:
        """The batch method encoding texts of ``role`` ("document" or "query")."""
        if role not in self.roles:
            raise DataError(f"{type(self).__name__} encodes no {role} texts")
        return getattr(self.udf, self.roles[role])

    def documents(self, texts: Any) -> Any:
        """The expression encoding document texts (title + " " + text: :func:`daft_retrieval.schema.document_text`)."""
        return self.method("document")(texts)

    def queries(self, texts: Any) -> Any:
        """The expression encoding query texts."""
        return self.method("query")(texts)

    def stored(self, value: Any) -> Any:
        """What :func:`~daft_retrieval.encode.column.encode` keeps of a batch method's output ``value`` (an
        expression), and so what the embedding cache stores: the output itself, unless a kind stores less."""
        return value

    def output(self, frame: Any) -> Any:
        """``frame`` (``key`` and :attr:`column`) as :func:`~daft_retrieval.encode.column.encode` returns it."""
        return frame

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.config == self.config  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self.config))

    def __getstate__(self) -> dict:
        return {"config": self.config, "_udf": None}
