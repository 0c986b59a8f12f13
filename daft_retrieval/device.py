"""Where a model runs: the torch device of a ``device`` option, and the Daft class that asks for a GPU for CUDA.

Encoders and rerankers take ``device``: "cpu", "cuda", "cuda:1", "mps", or None (CUDA when torch sees one, else
CPU). A CUDA device makes Daft schedule the class with ``gpus=1`` (one GPU per instance; on Ray one actor per GPU:
:meth:`daft_retrieval.encode.descriptor.ModelConfig.udf_options`); any other asks for none, so a CPU run never
waits for a GPU the cluster lacks. Daft-free (torch loads only to ask whether it sees a GPU).

    >>> wants_gpu("cuda:1"), wants_gpu(None)
    (True, False)
"""

from __future__ import annotations

import contextlib
from typing import Any

from daft_retrieval.errors import DataError

__all__ = ["check_device", "compute_dtype", "precision", "torch_device", "wants_gpu"]


def check_device(device: str | None) -> None:
    """Raise a :class:`DataError` unless ``device`` is None, "cpu", "cuda", "cuda:N" or "mps"."""
    if device is not None and not device.startswith(("cpu", "cuda", "mps")):
        raise DataError(f"device must be cpu, cuda[:N] or mps, not {device!r}")


def wants_gpu(device: str | None) -> bool:
    """Whether ``device`` names a CUDA device (the only case that asks Daft for a GPU)."""
    return (device or "").startswith("cuda")


def torch_device(device: str | None) -> str:
    """The torch device for ``device``: itself, or "cuda" when None and torch sees a GPU, else "cpu"."""
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def compute_dtype(device: str | None, fp16: bool, amp: bool = False) -> str:
    """The dtype a model computes in: "float16" when ``fp16`` is asked and ``device`` resolves to CUDA (the only
    device the encoders halve a model on), "autocast-float16" when ``amp`` is asked there instead (fp32 weights,
    matrix products in fp16 under ``torch.autocast``), else "float32" (fp16 or amp asked on CPU computes fp32).

    >>> compute_dtype("cpu", True), compute_dtype("cuda:1", True), compute_dtype("cuda", False)
    ('float32', 'float16', 'float32')
    >>> compute_dtype("cuda", False, amp=True), compute_dtype("cpu", False, amp=True)
    ('autocast-float16', 'float32')
    """
    if not torch_device(device).startswith("cuda"):
        return "float32"
    return "float16" if fp16 else "autocast-float16" if amp else "float32"


def precision(device: str | None, fp16: bool, amp: bool) -> Any:
    """The context a model call runs in: ``torch.autocast("cuda", torch.float16)`` when :func:`compute_dtype` says
    "autocast-float16", else one that does nothing."""
    if compute_dtype(device, fp16, amp) != "autocast-float16":
        return contextlib.nullcontext()
    import torch

    return torch.autocast(device_type="cuda", dtype=torch.float16)
