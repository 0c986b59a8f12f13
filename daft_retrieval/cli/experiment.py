"""The experiment file of ``daft-retrieval compare --experiment FILE``: read, checked, and every value converted
through the type and choices of the CLI option it stands for, before any work.

    {"systems": [
        {"name": "bm25", "retriever": "bm25", "k1": 0.9, "stopwords": "en"},
        {"retriever": "dense", "model": "all-MiniLM-L6-v2", "k": "100"},
        {"name": "hybrid", "fuse": "rrf", "runs": ["bm25", "dense-all-MiniLM-L6-v2"]},
        {"rerank": "all-MiniLM-L6-v2", "reranker": "bi", "of": "hybrid", "depth": 50}
    ]}

``"k": "10"`` is read as ``--k 10`` would be; ``"k": "ten"``, an unknown key, or a key of another kind of system
is a :class:`~daft_retrieval.errors.DataError` naming the file, the system, the key and what was expected.

>>> read_experiment("experiment.json")  # doctest: +SKIP
[{'name': 'bm25', 'retriever': 'bm25', 'k1': 0.9, 'stopwords': 'en'}, ...]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any, NoReturn

from daft_retrieval.errors import DataError

__all__ = ["PER_SYSTEM", "SYSTEM_KEYS", "read_experiment"]

# the keys that say what a system is, with the CLI option whose type and choices their values take (None: a name)
SYSTEM_KEYS: dict[str, str | None] = {
    "name": None,
    "retriever": "retriever",
    "model": None,
    "fuse": "fuse",
    "runs": None,
    "rerank": None,
    "reranker": "reranker",
    "of": None,
    "depth": "rerank_depth",
}
_ONLY_WITH = {"runs": "fuse", "reranker": "rerank", "of": "rerank", "depth": "rerank"}
# CLI options a system may set for itself (as the option's name, dashes or underscores)
PER_SYSTEM = (
    "k",
    "k1",
    "b",
    "bm25_variant",
    "stopwords",
    "stemmer",
    "splade_model",
    "late_model",
    "nprobe",
    "candidates",
    "rrf_k",
    "norm",
    "weights",
    "device",
    "fp16",
    "batch_size",
    "max_seq_length",
    "index_dir",
)
AT_LEAST = {"k": 1, "rerank_depth": 1, "batch_size": 1, "candidates": 1, "nprobe": 0, "max_seq_length": 1}


def _compare_actions() -> dict[str, argparse.Action]:
    """The ``compare`` command's options, by destination."""
    from daft_retrieval.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {a.dest: a for a in sub.choices["compare"]._actions}


def _expected(action: argparse.Action) -> str:
    if action.choices is not None:
        return "one of " + ", ".join(map(str, action.choices))
    if action.nargs == 0:
        return "true or false"
    kind = {int: "an integer", float: "a number"}.get(action.type, "a string")
    return f"a list of {kind.split(' ', 1)[1]}s" if action.nargs in ("+", "*") else kind


def _convert(action: argparse.Action, value: Any, refuse: Callable[[str], NoReturn]) -> Any:
    """``value`` as the CLI would have it from ``--option value`` (``refuse(expected)`` raises)."""
    if action.nargs == 0:  # a flag
        if not isinstance(value, bool):
            refuse("true or false")
        return value
    if action.nargs in ("+", "*"):
        items = value if isinstance(value, list) else [value]
        if not items:
            refuse(_expected(action))
        return [_scalar(action, v, refuse) for v in items]
    if value is None and action.default is None:
        return None
    return _scalar(action, value, refuse)


def _scalar(action: argparse.Action, value: Any, refuse: Callable[[str], NoReturn]) -> Any:
    if isinstance(value, (bool, list, dict)) or value is None:
        refuse(_expected(action))
    if action.type is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    try:
        converted = action.type(str(value)) if action.type is not None else str(value)
    except (TypeError, ValueError, argparse.ArgumentTypeError):
        refuse(_expected(action))
    if isinstance(converted, str) and not converted.strip():
        refuse(f"{_expected(action)} (not empty)")
    if action.choices is not None and converted not in action.choices:
        refuse(_expected(action))
    least = AT_LEAST.get(action.dest)
    if least is not None and converted < least:
        refuse(f"{_expected(action)} >= {least}")
    return converted


def _system(path: str, index: int, entry: Any, actions: dict[str, argparse.Action]) -> dict:
    """One system entry, checked and converted."""
    if not isinstance(entry, dict):
        raise DataError(f'{path}: system {index + 1}: expected an object like {{"retriever": "bm25"}}, not {entry!r}')
    label = f"system {index + 1}" + (f" ({entry['name']!r})" if isinstance(entry.get("name"), str) else "")
    out: dict = {}
    for key, value in entry.items():
        dest = str(key).replace("-", "_")

        def refuse(expected: str, key=key, value=value) -> NoReturn:
            if expected.startswith("one of ") and isinstance(value, str):
                raise DataError(f"{path}: {label}: unknown {key} {value!r}; expected {expected}")
            raise DataError(f"{path}: {label}: {key!r} must be {expected}, not {value!r}")

        if dest in SYSTEM_KEYS:
            option = SYSTEM_KEYS[dest]
            if option is not None:
                out[dest] = _convert(actions[option], value, refuse)
            elif dest == "runs":
                if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                    refuse("a list of earlier systems' names")
                out[dest] = value
            elif not isinstance(value, str) or not value.strip():
                refuse("a non-empty string")
            else:
                out[dest] = value
        elif dest in PER_SYSTEM and dest in actions:
            out[dest] = _convert(actions[dest], value, refuse)
        else:
            raise DataError(
                f"{path}: {label}: unknown option {key!r}; a system takes {', '.join(SYSTEM_KEYS)} and the options "
                f"{', '.join(PER_SYSTEM)}"
            )
    kinds = [k for k in ("retriever", "fuse", "rerank") if k in out]
    if len(kinds) > 1:
        raise DataError(f"{path}: {label}: give one of 'retriever', 'fuse' or 'rerank', not {' and '.join(kinds)}")
    if "model" in out and kinds and kinds[0] != "retriever":
        raise DataError(f"{path}: {label}: 'model' belongs to a retriever; a {kinds[0]!r} system takes none")
    for key, owner in _ONLY_WITH.items():
        if key in out and owner not in out:
            raise DataError(f"{path}: {label}: {key!r} belongs to a {owner!r} system; add {owner!r} or drop it")
    return out


def read_experiment(path: str) -> list[dict]:
    """The systems of the experiment file at ``path``, each key checked and each value converted (see above)."""
    try:
        with open(path, encoding="utf-8") as fh:
            spec = json.load(fh)
    except OSError as exc:
        raise DataError(f"{path}: cannot read the experiment file ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start}): an experiment file is JSON") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: not JSON ({exc.msg}, column {exc.colno})") from None
    systems = spec.get("systems") if isinstance(spec, dict) else None
    if not isinstance(systems, list) or not systems:
        raise DataError(f'{path}: expected {{"systems": [...]}} with at least one system')
    other = sorted(set(spec) - {"systems"})
    if other:
        raise DataError(f'{path}: unknown key {other[0]!r}; the file holds {{"systems": [...]}} only')
    actions = _compare_actions()
    out = [_system(path, i, entry, actions) for i, entry in enumerate(systems)]
    names = [s["name"] for s in out if "name" in s]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise DataError(f"{path}: two systems are named {twice[0]!r}: give each a distinct 'name'")
    return out
