"""What the CLI checks before any data is read or model run: every model it is given can be had, every
retriever's settings are valid, and the device exists. A bad one is one line at once, not a traceback (or a line)
after the dataset has loaded and earlier systems have run.

    >>> check_models([("--model", "no-such-model", "dense")], args)  # offline  # doctest: +SKIP
    Traceback (most recent call last):
    DataError: --model 'no-such-model': not a local folder, and not in the local Hugging Face cache while ...
"""

from __future__ import annotations

import argparse

from daft_retrieval.errors import DataError

__all__ = ["check_device", "check_models", "check_retriever", "check_systems"]


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
    """Make (and so check) the light settings of ``retriever`` with the options ``args``: batch size, lengths,
    stemmer and stopwords, BM25 parameters, late-interaction search options, device."""
    check_device(args.device)
    if retriever == "late" and (args.nprobe < 0 or args.candidates < 1):
        raise DataError(f"--nprobe must be >= 0 and --candidates >= 1, not {args.nprobe} and {args.candidates}")
    if retriever == "late" and args.nbits not in (0, 2, 4):
        raise DataError(
            f"--nbits must be 0 (fp32 token vectors), 2 or 4 (bits per residual dimension), not {args.nbits}"
        )
    from daft_retrieval.cli.commands import _specs
    from daft_retrieval.experiment.stages import check_system

    check_system(_specs([{"retriever": retriever}], args)[0])


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


def check_systems(systems: list, labels: list[str], args: argparse.Namespace) -> None:
    """``compare``'s system specs: every model they name (``system NAME: model``), the device, and every system's
    settings (:func:`daft_retrieval.experiment.stages.check_system`)."""
    from daft_retrieval.experiment import Rerank, Retrieve
    from daft_retrieval.experiment.stages import check_system

    named = []
    for i, spec in enumerate(systems):
        where = f"system {spec.name or i + 1}"
        if isinstance(spec, Rerank):
            named.append((f"{where}: rerank", spec.rerank, "dense"))
        elif isinstance(spec, Retrieve) and spec.model:
            named.append((f"{where}: model", spec.model, spec.retriever))
    check_models(named, args)
    for spec in systems:
        check_device(getattr(spec, "device", None))
        check_system(spec)
