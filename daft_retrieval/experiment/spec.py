"""System specs: what one system of an experiment runs, typed and frozen, with every option the CLI has.

- :class:`Retrieve`: a retriever (dense, bm25, splade, late) and its model and settings;
- :class:`Fuse`: a fusion of earlier systems (``runs``; default every earlier one);
- :class:`Rerank`: a rerank of an earlier system's top ``depth`` (``of``; default the one just before).

:func:`system_from_mapping` makes one from a JSON/TOML entry or from the CLI's flags (one path: the CLI turns its
flags into the same entries), converting each value by its field's type (``"k": "10"`` is 10, as ``--k 10`` is)
and refusing, with the system and the key named, a value of the wrong type, an unknown key or a key of another
kind of system. Options a system does not set come from ``defaults`` (the command's flags), else the CLI's
defaults.

    >>> system_from_mapping({"retriever": "bm25", "k": "10", "bm25-variant": "atire"}, "system 1")
    Retrieve(retriever='bm25', model=None, name=None, k=10, k1=1.2, b=0.75, bm25_variant='atire', ...)
    >>> system_from_mapping({"fuse": "rrf", "weights": [1, 2]}, "system 3")
    Traceback (most recent call last):
    ...
    daft_retrieval.errors.DataError: system 3: weights applies to wsum only, not rrf; drop it or use method wsum
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from daft_retrieval import registry as R
from daft_retrieval.errors import DataError

if TYPE_CHECKING:
    from daft_retrieval.text.chunk import Chunking

__all__ = ["KINDS", "Fuse", "Rerank", "Retrieve", "System", "spec_key", "system_from_mapping"]


def _opt(kind: str, default: Any = None, *, least: int | None = None, choices: R.Registry | None = None) -> Any:
    return field(default=default, metadata={"kind": kind, "least": least, "choices": choices})


@dataclass(frozen=True)
class Retrieve:
    """A retriever; ``model`` None: the retriever's default (bm25 takes none)."""

    retriever: str = _opt("choice", R.RETRIEVERS.default, choices=R.RETRIEVERS)
    model: str | None = _opt("name")
    name: str | None = _opt("name")
    k: int = _opt("int", 100, least=1)
    k1: float = _opt("float", 1.2)
    b: float = _opt("float", 0.75)
    bm25_variant: str = _opt("choice", R.BM25_VARIANTS.default, choices=R.BM25_VARIANTS)
    stopwords: str | None = _opt("str")
    stemmer: str | None = _opt("str")
    nprobe: int = _opt("int", 4, least=0)
    candidates: int = _opt("int", 1024, least=1)
    nbits: int = _opt("int", 4, least=0)
    device: str | None = _opt("str")
    fp16: bool = _opt("bool", False)
    amp: bool = _opt("bool", False)
    batch_size: int = _opt("int", 32, least=1)
    max_seq_length: int | None = _opt("int", least=1)
    index_dir: str | None = _opt("str")
    index: str = _opt("str", "exact")
    ef_search: int = _opt("int", 64, least=1)
    nprobe_faiss: int = _opt("int", 8, least=1)
    qdrant_url: str | None = _opt("str")
    chunk_tokens: int | None = _opt("int", least=1)
    chunk_stride: int | None = _opt("int", least=1)
    chunk_agg: str = _opt("choice", R.CHUNK_AGGS.default, choices=R.CHUNK_AGGS)

    def __post_init__(self) -> None:
        # --index is the dense retriever's (and SPLADE's, for qdrant): the others search their own indexes
        if self.retriever != "dense" and not (self.retriever == "splade" and self.index == "qdrant"):
            object.__setattr__(self, "index", "exact")
        info = R.RETRIEVERS.entry(self.retriever).info
        if "default_model" not in info:
            object.__setattr__(self, "model", None)  # bm25: no model
            object.__setattr__(self, "chunk_tokens", None)  # and whole documents (chunking is the encoders')
        elif self.model is None:
            object.__setattr__(self, "model", info["default_model"])

    def label_for(self, runs: list[str] = ()) -> str:
        """``name``, else ``bm25``, ``dense-all-MiniLM-L6-v2`` or ``dense-all-MiniLM-L6-v2-faiss:HNSW32`` (a
        retriever reads no runs)."""
        if self.name:
            return self.name
        label = f"{self.retriever}-{os.path.basename(self.model.rstrip('/'))}" if self.model else self.retriever
        chunking = self.chunking()
        label = label if chunking is None else f"{label}-{chunking.label()}"
        return label if self.index == "exact" else f"{label}-{self.index}"

    def chunking(self) -> Chunking | None:
        """The :class:`~daft_retrieval.text.chunk.Chunking` of ``chunk_tokens`` (None: documents whole)."""
        from daft_retrieval.text.chunk import Chunking

        if self.chunk_tokens is None:
            return None
        return Chunking(self.chunk_tokens, self.chunk_stride, self.chunk_agg)

    def index_options(self) -> dict | None:
        """The index options of :func:`daft_retrieval.dense_search` (FAISS's search settings, Qdrant's server;
        None for the exact index)."""
        if self.index == "exact":
            return None
        if self.index == "qdrant":
            return {"url": self.qdrant_url}
        return {"ef_search": self.ef_search, "nprobe": self.nprobe_faiss}


@dataclass(frozen=True)
class Fuse:
    """A fusion of the earlier systems named in ``runs`` (None: every earlier system), top ``k`` per query."""

    fuse: str = _opt("choice", R.FUSIONS.default, choices=R.FUSIONS)
    runs: tuple[str, ...] | None = _opt("names")
    name: str | None = _opt("name")
    rrf_k: float = _opt("float", 60.0)
    norm: str = _opt("choice", R.NORMALIZATIONS.default, choices=R.NORMALIZATIONS)
    weights: tuple[float, ...] | None = _opt("floats")
    k: int = _opt("int", 100, least=1)

    def options(self) -> dict:
        """The keyword options of :func:`daft_retrieval.fuse` for this method (a norm only where it applies)."""
        info = R.FUSIONS.entry(self.fuse).info
        options: dict[str, Any] = {"k": self.rrf_k} if "k" in info["params"] else {}
        options["norm"] = self.norm if info["norm"] else None
        options["weights"] = list(self.weights) if self.weights is not None else None
        return options

    def label_for(self, runs: list[str]) -> str:
        """``name``, else ``rrf(bm25, dense-all-MiniLM-L6-v2)`` of the ``runs`` it fuses."""
        return self.name or f"{self.fuse}({', '.join(runs)})"


@dataclass(frozen=True)
class Rerank:
    """A rerank of system ``of`` (None: the one just before) by ``rerank`` (the model) under ``reranker``."""

    rerank: str = _opt("name")
    reranker: str = _opt("choice", R.RERANKERS.default, choices=R.RERANKERS)
    of: str | None = _opt("name")
    depth: int = _opt("int", 100, least=1)
    name: str | None = _opt("name")
    device: str | None = _opt("str")
    fp16: bool = _opt("bool", False)
    amp: bool = _opt("bool", False)
    batch_size: int = _opt("int", 32, least=1)
    max_seq_length: int | None = _opt("int", least=1)

    def label_for(self, runs: list[str]) -> str:
        """``name``, else ``bi-all-mpnet-base-v2@100(bm25)`` of the one run it reranks."""
        model = os.path.basename(self.rerank.rstrip("/"))
        return self.name or f"{self.reranker}-{model}@{self.depth}({runs[0]})"


System = Retrieve | Fuse | Rerank
KINDS: dict[str, type] = {"retriever": Retrieve, "fuse": Fuse, "rerank": Rerank}
_ONLY_WITH = {"runs": "fuse", "reranker": "rerank", "of": "rerank", "depth": "rerank"}
_EXPECTED = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "str": "a string",
    "name": "a non-empty string",
    "floats": "a list of numbers",
    "names": "a list of earlier systems' names",
}


def _convert(spec: dataclasses.Field, value: Any, refuse) -> Any:
    """``value`` as the field's type (``"10"`` -> 10 for an integer, as the CLI reads ``--k 10``)."""
    kind, least, choices = spec.metadata["kind"], spec.metadata["least"], spec.metadata["choices"]
    if value is None and spec.default is None:
        return None
    if kind == "bool":
        return value if isinstance(value, bool) else refuse(_EXPECTED[kind])
    if kind in ("floats", "names"):
        if not isinstance(value, list) or not value:
            refuse(_EXPECTED[kind])
        item = "float" if kind == "floats" else "name"
        return tuple(_scalar(item, v, lambda _: refuse(_EXPECTED[kind])) for v in value)
    if kind == "choice":
        if not isinstance(value, str) or value not in choices:
            refuse(f"one of {', '.join(choices.names())}")
        return value
    converted = _scalar(kind, value, refuse)
    if least is not None and converted < least:
        refuse(f"{_EXPECTED[kind]} >= {least}")
    return converted


def _scalar(kind: str, value: Any, refuse) -> Any:
    if isinstance(value, (bool, list, dict)) or value is None:
        refuse(_EXPECTED[kind])
    if kind == "int":
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(str(value))
        except ValueError:
            refuse(_EXPECTED[kind])
    if kind == "float":
        try:
            number = float(str(value))
        except ValueError:
            refuse(_EXPECTED[kind])
        return number if math.isfinite(number) else refuse(_EXPECTED[kind])
    text = str(value)
    return text if text.strip() else refuse(f"{_EXPECTED[kind]} (not empty)")


def _kind(entry: Mapping, where: str) -> type:
    kinds = [k for k in KINDS if k in entry]
    if len(kinds) > 1:
        raise DataError(f"{where}: give one of 'retriever', 'fuse' or 'rerank', not {' and '.join(kinds)}")
    if "model" in entry and kinds and kinds[0] != "retriever":
        raise DataError(f"{where}: 'model' belongs to a retriever; a {kinds[0]!r} system takes none")
    for key, owner in _ONLY_WITH.items():
        if key in entry and owner not in entry:
            raise DataError(f"{where}: {key!r} belongs to a {owner!r} system; add {owner!r} or drop it")
    return KINDS[kinds[0]] if kinds else Retrieve


def system_from_mapping(entry: Any, where: str, defaults: Mapping[str, Any] | None = None) -> System:
    """The spec of one system entry (keys as field names, dashes or underscores); ``where`` names it in errors
    (``experiment.json: system 2 ('bm25')``); ``defaults``: values of the fields it leaves out (the command's
    flags; ``models``: the default model per retriever)."""
    if not isinstance(entry, Mapping):
        raise DataError(f'{where}: expected an object like {{"retriever": "bm25"}}, not {entry!r}')
    entry = {str(k).replace("-", "_"): (k, v) for k, v in entry.items()}
    cls = _kind(entry, where)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for dest, (key, value) in entry.items():
        if dest not in fields:
            raise DataError(
                f"{where}: unknown option {key!r}; a {cls.__name__.lower()} system takes {', '.join(fields)}"
            )

        def refuse(expected: str, key=key, value=value) -> NoReturn:
            if expected.startswith("one of ") and isinstance(value, str):
                raise DataError(f"{where}: unknown {key} {value!r}; expected {expected}")
            raise DataError(f"{where}: {key!r} must be {expected}, not {value!r}")

        values[dest] = _convert(fields[dest], value, refuse)
    defaults = dict(defaults or {})
    if cls is Retrieve and "model" not in values:
        retriever = values.get("retriever", R.RETRIEVERS.default)
        values["model"] = (defaults.get("models") or {}).get(retriever)
    for name in fields:
        if name not in values and defaults.get(name) is not None and name not in ("name", "runs", "of", "model"):
            values[name] = tuple(defaults[name]) if isinstance(defaults[name], list) else defaults[name]
    spec = cls(**values)
    if isinstance(spec, Retrieve) and spec.retriever == "late":
        from daft_retrieval.index.late import check_nbits

        try:
            check_nbits(spec.nbits)
        except DataError as exc:
            raise DataError(f"{where}: {exc}") from None
    if isinstance(spec, Fuse):
        from daft_retrieval.fusion.by_name import check_fusion

        n_runs = len(spec.runs) if spec.runs else max(2, len(spec.weights or ()))
        try:
            check_fusion(spec.fuse, n_runs, **spec.options())
        except DataError as exc:
            raise DataError(f"{where}: {exc}") from None
    return spec


def spec_key(spec: System, sources: list[str] = ()) -> str:
    """The content key of what ``spec`` computes: its fields but ``name``, ``index_dir`` and ``qdrant_url`` (which
    change no number), with the systems it reads (``sources``: their keys, in order) in place of their names; 16
    hex digits.

    >>> spec_key(Retrieve(retriever="bm25", name="a")) == spec_key(Retrieve(retriever="bm25", name="b"))
    True
    """
    where = ("name", "index_dir", "qdrant_url", "runs", "of")  # where the work is done changes no number
    fields = {k: v for k, v in dataclasses.asdict(spec).items() if k not in where}
    if fields.get("index") == "exact":  # the exact index's key is what it was before FAISS came
        fields = {k: v for k, v in fields.items() if k not in ("index", "ef_search", "nprobe_faiss")}
    if fields.get("chunk_tokens") is None:  # whole documents: the key is what it was before chunking came
        fields = {k: v for k, v in fields.items() if k not in ("chunk_tokens", "chunk_stride", "chunk_agg")}
    if fields.get("index") == "qdrant":  # FAISS's settings do not apply
        fields = {k: v for k, v in fields.items() if k not in ("ef_search", "nprobe_faiss")}
    if not fields.get("amp"):  # fp32 (or fp16) without autocast: the key is what it was before amp came
        fields.pop("amp", None)
    if fields.get("retriever") != "late":  # nbits is the late index's: the other keys are what they were before it
        fields.pop("nbits", None)
    body = {"kind": type(spec).__name__, **fields, "sources": list(sources)}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
