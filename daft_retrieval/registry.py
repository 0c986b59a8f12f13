"""Registries: the named parts of one kind (retrievers, fusions, normalisations, rerankers, BM25 variants), with the
one line of help the CLI shows for each.

An entry names its part as ``"module:attribute"``, imported on first use, so the registries (and the CLI's parser,
which builds its choices and help from them alone) load neither Daft nor any model library.

    >>> COLOURS = Registry("colour")
    >>> COLOURS.add("red", "colorsys:rgb_to_hsv", help="the colour of fire")
    >>> COLOURS.names(), COLOURS.get("red")(1.0, 0.0, 0.0), COLOURS.help("red")
    (['red'], (0.0, 1.0, 1.0), 'the colour of fire')
    >>> COLOURS.get("blue")
    Traceback (most recent call last):
    ...
    daft_retrieval.errors.DataError: unknown colour 'blue': expected one of red
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from daft_retrieval.errors import DataError

__all__ = ["Entry", "Registry"]


@dataclass(frozen=True)
class Entry:
    """One registered part: its name, where it is defined (``"module:attribute"``), one line of help, and free-form
    facts the CLI reads (``info``: e.g. the option naming a retriever's model)."""

    name: str
    target: str
    help: str
    info: dict[str, Any] = field(default_factory=dict)

    def load(self) -> Any:
        """The part itself (its module is imported now)."""
        module, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(module), attribute)


class Registry:
    """Names of one ``kind`` of part, in registration order."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._entries)})"

    def add(self, name: str, target: str, *, help: str, **info: Any) -> None:
        """Register ``target`` (``"module:attribute"``) as ``name``; a second registration of a name is a bug."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        if ":" not in target:
            raise ValueError(f"{self.kind} {name!r}: the target must be 'module:attribute', not {target!r}")
        self._entries[name] = Entry(name, target, help, dict(info))

    def entry(self, name: str) -> Entry:
        """The entry of ``name``, or a :class:`DataError` naming the choices."""
        if name not in self._entries:
            raise DataError(f"unknown {self.kind} {name!r}: expected one of {', '.join(self._entries)}")
        return self._entries[name]

    def get(self, name: str) -> Any:
        """The part registered as ``name`` (a :class:`DataError` naming the choices when there is none)."""
        return self.entry(name).load()

    def help(self, name: str) -> str:
        return self.entry(name).help

    def names(self) -> list[str]:
        return list(self._entries)

    def entries(self) -> list[Entry]:
        return list(self._entries.values())

    def describe(self) -> str:
        """``rrf (reciprocal rank fusion), combsum (...)``: every name with its help, for a CLI help line."""
        return ", ".join(f"{e.name} ({e.help})" for e in self._entries.values())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
