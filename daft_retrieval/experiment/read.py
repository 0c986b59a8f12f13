"""Experiment files (JSON or TOML): the systems, and optionally the datasets, measures, baselines and statistics.

    {"systems": [
        {"name": "bm25", "retriever": "bm25", "k1": 0.9, "stopwords": "en"},
        {"retriever": "dense", "model": "all-MiniLM-L6-v2", "k": "100"},
        {"name": "hybrid", "fuse": "rrf", "runs": ["bm25", "dense-all-MiniLM-L6-v2"]},
        {"rerank": "all-MiniLM-L6-v2", "reranker": "bi", "of": "hybrid", "depth": 50}
     ],
     "datasets": ["beir:scifact", "data/demo"], "measures": ["nDCG@10"], "baselines": ["bm25"]}

or the same in TOML (``[[systems]]`` tables; a ``.toml`` file). Each system goes through
:func:`~daft_retrieval.experiment.spec.system_from_mapping` (errors name the file, the system and the key).

    >>> read_experiment("experiment.json").systems[0]  # doctest: +SKIP
    Retrieve(retriever='bm25', ..., name='bm25', ...)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from daft_retrieval.errors import DataError
from daft_retrieval.experiment.spec import System, system_from_mapping

__all__ = ["ExperimentFile", "read_experiment"]

# file keys besides "systems": the type each takes
_RUN_KEYS = {"datasets": "names", "measures": "names", "baselines": "names", "correction": "name", "tukey": "bool"}


@dataclass(frozen=True)
class ExperimentFile:
    """What an experiment file says: ``systems`` (specs) and the run-level settings it gives (absent: None)."""

    systems: tuple[System, ...]
    settings: dict = field(default_factory=dict)


def _load(path: str) -> Any:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise DataError(f"{path}: cannot read the experiment file ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start}): an experiment file is JSON or TOML") from None
    if path.endswith(".toml"):
        import tomllib

        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise DataError(f"{path}: not TOML ({exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: not JSON ({exc.msg}, column {exc.colno})") from None


def _setting(path: str, key: str, value: Any) -> Any:
    kind = _RUN_KEYS[key]
    if kind == "bool":
        if not isinstance(value, bool):
            raise DataError(f"{path}: {key!r} must be true or false, not {value!r}")
        return value
    if kind == "name":
        if not isinstance(value, str) or not value.strip():
            raise DataError(f"{path}: {key!r} must be a non-empty string, not {value!r}")
        return value
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise DataError(f"{path}: {key!r} must be a list of non-empty strings, not {value!r}")
    return value


def read_experiment(path: str, defaults: Mapping[str, Any] | None = None) -> ExperimentFile:
    """The experiment file at ``path`` (``.toml``: TOML, else JSON), every key checked and value converted;
    ``defaults``: what its systems leave out (the command's flags)."""
    spec = _load(path)
    systems = spec.get("systems") if isinstance(spec, dict) else None
    if not isinstance(systems, list) or not systems:
        raise DataError(f'{path}: expected {{"systems": [...]}} with at least one system')
    other = sorted(set(spec) - {"systems", *_RUN_KEYS})
    if other:
        raise DataError(
            f"{path}: unknown key {other[0]!r}; the file holds systems and optionally {', '.join(_RUN_KEYS)}"
        )
    out = []
    for index, entry in enumerate(systems):
        name = entry.get("name") if isinstance(entry, dict) else None
        where = f"{path}: system {index + 1}" + (f" ({name!r})" if isinstance(name, str) else "")
        out.append(system_from_mapping(entry, where, defaults))
    names = [s.name for s in out if s.name]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise DataError(f"{path}: two systems are named {twice[0]!r}: give each a distinct 'name'")
    settings = {k: _setting(path, k, v) for k, v in spec.items() if k != "systems"}
    return ExperimentFile(tuple(out), settings)
