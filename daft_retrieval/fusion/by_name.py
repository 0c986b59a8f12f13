"""A fusion chosen by name (:data:`daft_retrieval.registry.FUSIONS`): :func:`check_fusion` validates the options
without any run (the CLI calls it before reading a file), :func:`fuse` validates and runs the fusion.

Rules (each broken one is a :class:`~daft_retrieval.errors.DataError` naming the value and the fix):

- ``method``: a registered fusion (rrf, combsum, combmnz, wsum); at least one run.
- ``weights``: wsum needs one finite weight per run, not all 0 (every fused score would be 0); any other method
  refuses them.
- ``norm``: None (not given) means ``min-max`` for the methods that normalise (combsum, combmnz, wsum); a norm given
  to a method that fuses ranks (rrf) is refused, so a setting is never silently ignored.
- ``params``: a method's own options only (rrf's ``k``: a finite number >= 0).
- ``depth``: None (keep every document) or an integer >= 1.

    >>> check_fusion("wsum", 2, weights=[0, 0])
    Traceback (most recent call last):
    ...
    daft_retrieval.errors.DataError: weights are all 0: every fused score would be 0; give at least one weight ...
    >>> check_fusion("rrf", 2, norm="zmuv")
    Traceback (most recent call last):
    ...
    daft_retrieval.errors.DataError: norm applies to combsum, combmnz, wsum only, not rrf; drop it
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from daft_retrieval import registry
from daft_retrieval.errors import DataError

if TYPE_CHECKING:
    import daft

__all__ = ["check_fusion", "check_weights", "fuse"]

_LABELS = {"method": "method", "weights": "weights", "norm": "norm", "k": "rrf k", "depth": "depth"}


def _number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def check_weights(weights: Any, n_runs: int, *, label: str = "weights", method: str = "wsum") -> list[float]:
    """``weights`` as floats, one per run, finite, not all 0; else a :class:`DataError` calling them ``label``.

    >>> check_weights([1, 0.5], 2)
    [1.0, 0.5]
    """
    if weights is None or isinstance(weights, (str, bytes)) or not isinstance(weights, Sequence):
        raise DataError(f"{method} needs {label} with one weight per run ({n_runs} runs), not {weights!r}")
    if len(weights) != n_runs:
        raise DataError(f"{method} needs {label} with one weight per run ({n_runs} runs, {len(weights)} given)")
    for w in weights:
        if not _number(w):
            raise DataError(f"{label} must be finite numbers, not {w!r}")
    if not any(w != 0 for w in weights):
        raise DataError(f"{label} are all 0: every fused score would be 0; give at least one weight other than 0")
    return [float(w) for w in weights]


def check_fusion(
    method: str,
    n_runs: int,
    *,
    norm: str | None = None,
    weights: Sequence[float] | None = None,
    depth: int | None = None,
    labels: Mapping[str, str] | None = None,
    **params: Any,
) -> None:
    """Raise a :class:`DataError` unless ``method`` can fuse ``n_runs`` runs with these options (the module doc has
    the rules). ``labels`` name the options in the messages (default: ``weights``, ``norm``, ``rrf k``, ...; the CLI
    passes its flags, ``{"weights": "--weights", "k": "--rrf-k"}``).

    >>> check_fusion("rrf", 2, k=60)
    >>> check_fusion("rrf", 2, k=-1, labels={"k": "--rrf-k"})
    Traceback (most recent call last):
    ...
    daft_retrieval.errors.DataError: --rrf-k must be a finite number >= 0, not -1
    """
    name = {**_LABELS, **(labels or {})}
    info = registry.FUSIONS.entry(method).info  # an unknown method names the choices
    if n_runs < 1:
        raise DataError(f"{method} needs at least one run")
    weighted = [m for m in registry.FUSIONS if registry.FUSIONS.entry(m).info["weights"]]
    if info["weights"]:
        check_weights(weights, n_runs, label=name["weights"], method=f"{name['method']} {method}")
    elif weights is not None:
        raise DataError(
            f"{name['weights']} applies to {', '.join(weighted)} only, not {method}; "
            f"drop it or use {name['method']} {weighted[0]}"
        )
    if norm is not None:
        normalising = [m for m in registry.FUSIONS if registry.FUSIONS.entry(m).info["norm"]]
        if not info["norm"]:
            raise DataError(f"{name['norm']} applies to {', '.join(normalising)} only, not {method}; drop it")
        if norm not in registry.NORMALIZATIONS:
            raise DataError(f"unknown normalisation {norm!r}; expected one of {registry.NORMALIZATIONS.names()}")
    for key, value in params.items():
        if key not in info["params"]:
            takes = [f"{m} takes {p}" for m in registry.FUSIONS for p in registry.FUSIONS.entry(m).info["params"]]
            raise DataError(f"{method} takes no option {key!r} ({'; '.join(takes) or 'no fusion takes one'}); drop it")
        if key == "k" and not (_number(value) and value >= 0):
            raise DataError(f"{name['k']} must be a finite number >= 0, not {value}")
    if depth is not None and not (isinstance(depth, numbers.Integral) and not isinstance(depth, bool) and depth >= 1):
        raise DataError(f"{name['depth']} must be an integer >= 1 (or None: keep every document), not {depth!r}")


def fuse(
    runs: Sequence[daft.DataFrame],
    *,
    method: str,
    norm: str | None = None,
    weights: Sequence[float] | None = None,
    depth: int | None = None,
    **params: Any,
) -> daft.DataFrame:
    """Fuse ``runs`` by the registered ``method`` (rrf, combsum, combmnz, wsum), after :func:`check_fusion`; the same
    run as :func:`~daft_retrieval.fusion.rrf.rrf`, :func:`~daft_retrieval.fusion.comb.comb_sum`,
    :func:`~daft_retrieval.fusion.comb.comb_mnz` or :func:`~daft_retrieval.fusion.comb.weighted_sum` called directly.
    ``norm`` defaults to min-max where it applies; ``params``: rrf's ``k`` (default 60).

    >>> import daft
    >>> a = daft.from_pydict({"query_id": ["q", "q"], "doc_id": ["d1", "d2"], "score": [2.0, 1.0]})
    >>> b = daft.from_pydict({"query_id": ["q", "q"], "doc_id": ["d1", "d2"], "score": [1.0, 5.0]})
    >>> fused = fuse([a, b], method="wsum", weights=[0.25, 0.75])  # min-max: a d1 1, d2 0; b d1 0, d2 1
    >>> fused.sort("rank").to_pydict()["score"]  # d2: 0.25 x 0 + 0.75 x 1, d1: 0.25 x 1 + 0.75 x 0
    [0.75, 0.25]
    """
    from daft_retrieval.run import check_runs

    runs = check_runs(runs, "fuse")
    check_fusion(method, len(runs), norm=norm, weights=weights, depth=depth, **params)
    entry = registry.FUSIONS.entry(method)
    function = entry.load()
    options: dict[str, Any] = {**params, "depth": depth}
    if entry.info["norm"]:
        options["norm"] = registry.NORMALIZATIONS.default if norm is None else norm
    if entry.info["weights"]:
        return function(runs, weights, **options)
    return function(runs, **options)
