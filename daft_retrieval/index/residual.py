"""Residual compression of token vectors (ColBERTv2; Santhanam et al., NAACL 2022, section 3.2).

A token vector ``v`` is stored as its nearest centroid ``c`` and the residual ``r = v - c`` quantised to ``nbits``
(2 or 4) bits per dimension. Per dimension ``j``, ``2^nbits - 1`` bucket cutoffs are the quantiles
``i / 2^nbits`` (i = 1 .. 2^nbits - 1) of the residuals of a training sample, and the ``2^nbits`` bucket weights
the quantiles ``(i + 0.5) / 2^nbits`` (i = 0 .. 2^nbits - 1): a residual value in bucket ``b`` (``cutoff[b-1] <= r <
cutoff[b]``) is stored as ``b`` and decoded as ``weight[b]``. The buckets are packed into ``uint8`` (8 / nbits
values a byte) and a vector is decoded as ``normalize(c + weight[bucket])``. (ColBERTv2's code pools the quantiles
over all dimensions; here each dimension has its own, which costs ``dim x 2^nbits`` floats and fits skewed
dimensions better.)

    >>> rng = np.random.default_rng(0)
    >>> residuals = rng.normal(0, 0.1, (1000, 8)).astype(np.float32)
    >>> codec = ResidualCodec.train(residuals, nbits=2)
    >>> codec.cutoffs.shape, codec.weights.shape
    ((8, 3), (8, 4))
    >>> packed = codec.encode(residuals)
    >>> packed.shape, packed.dtype
    ((1000, 2), dtype('uint8'))
    >>> bool(np.abs(codec.decode(packed) - residuals).mean() < 0.05)
    True
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from daft_retrieval.score.unit import unit_rows

__all__ = ["NBITS", "ResidualCodec", "decompress", "pack_bits", "unpack_bits"]

NBITS = (2, 4)  # bits per dimension a residual may be stored in
CODEC_FILE = "residual_codec.npz"


def pack_bits(values: np.ndarray, nbits: int) -> np.ndarray:
    """Pack ``n x dim`` integers in ``[0, 2^nbits)`` into ``n x ceil(dim * nbits / 8)`` bytes, most significant
    bit first (``np.packbits``); :func:`unpack_bits` is its inverse.

    >>> pack_bits(np.array([[3, 0, 1, 2]]), 2).tolist()  # 11 00 01 10
    [[198]]
    """
    values = np.asarray(values, dtype=np.uint8)
    bits = np.unpackbits(values[..., None], axis=-1)[..., 8 - nbits :]  # n x dim x nbits
    return np.packbits(bits.reshape(len(values), -1), axis=1)


def unpack_bits(packed: np.ndarray, nbits: int, dim: int) -> np.ndarray:
    """The ``n x dim`` integers (uint8) that :func:`pack_bits` packed into ``packed``.

    >>> unpack_bits(np.array([[198]], np.uint8), 2, 4).tolist()
    [[3, 0, 1, 2]]
    """
    bits = np.unpackbits(np.asarray(packed, dtype=np.uint8), axis=1, count=dim * nbits)
    bits = bits.reshape(len(packed), dim, nbits)
    weights = (1 << np.arange(nbits - 1, -1, -1)).astype(np.uint8)
    return (bits * weights).sum(axis=2, dtype=np.uint8)


@dataclass(frozen=True)
class ResidualCodec:
    """Per-dimension bucket ``cutoffs`` (``dim x (2^nbits - 1)``) and ``weights`` (``dim x 2^nbits``) of
    ``nbits``-bit residuals."""

    nbits: int
    cutoffs: np.ndarray
    weights: np.ndarray

    @classmethod
    def train(cls, residuals: np.ndarray, nbits: int) -> ResidualCodec:
        """Cutoffs and weights from the quantiles of ``residuals`` (``n x dim``, a training sample's ``v - c``)."""
        if nbits not in NBITS:
            raise ValueError(f"nbits must be one of {NBITS}, not {nbits!r}")
        options = 2**nbits
        levels = np.concatenate([np.arange(1, options) / options, (np.arange(options) + 0.5) / options])
        x = np.asarray(residuals, dtype=np.float32)
        # one dimension at a time: a copy of one column, not of the whole sample in float64
        quantiles = np.stack([np.quantile(x[:, j], levels) for j in range(x.shape[1])]).astype(np.float32)
        return cls(nbits, quantiles[:, : options - 1], quantiles[:, options - 1 :])

    @property
    def dim(self) -> int:
        return self.cutoffs.shape[0]

    def buckets(self, residuals: np.ndarray) -> np.ndarray:
        """The bucket of every value: the number of its dimension's cutoffs it is at or above (``n x dim``)."""
        r = np.asarray(residuals, dtype=np.float32)
        out = np.zeros(r.shape, dtype=np.uint8)
        for i in range(self.cutoffs.shape[1]):  # 3 or 15 comparisons, vectorised over every value
            out += r >= self.cutoffs[:, i]
        return out

    def encode(self, residuals: np.ndarray) -> np.ndarray:
        """``residuals`` (``n x dim``) as packed buckets (``n x dim * nbits / 8`` uint8)."""
        return pack_bits(self.buckets(residuals), self.nbits)

    @cached_property
    def _table(self) -> np.ndarray:
        """``table[p, byte]``: the weights of the ``8 / nbits`` dimensions that byte ``p`` of a packed row holds,
        when it holds ``byte`` (``n_bytes x 256 x 8 / nbits`` float32): decoding is one lookup per byte."""
        per = 8 // self.nbits
        buckets = unpack_bits(np.arange(256, dtype=np.uint8)[:, None], self.nbits, per)  # 256 x per
        dims = np.minimum(np.arange(-(-self.dim // per))[:, None] * per + np.arange(per), self.dim - 1)
        return self.weights[dims[:, None, :], buckets[None, :, :]]

    def decode(self, packed: np.ndarray) -> np.ndarray:
        """The residuals (bucket weights, ``n x dim`` float32) that ``packed`` stands for."""
        packed = np.asarray(packed, dtype=np.uint8)
        values = self._table[np.arange(packed.shape[1]), packed]  # n x n_bytes x per
        return values.reshape(len(packed), -1)[:, : self.dim]

    def save(self, folder: str) -> str:
        """Write ``residual_codec.npz`` in ``folder``; returns the file name (what ``index.json`` records)."""
        np.savez(os.path.join(folder, CODEC_FILE), nbits=self.nbits, cutoffs=self.cutoffs, weights=self.weights)
        return CODEC_FILE

    @classmethod
    def load(cls, file: str) -> ResidualCodec:
        """The codec :meth:`save` wrote at ``file``."""
        with np.load(file) as data:
            return cls(int(data["nbits"]), data["cutoffs"], data["weights"])


def decompress(codec: ResidualCodec, centroids: np.ndarray, codes: np.ndarray, packed: np.ndarray) -> np.ndarray:
    """Token vectors ``normalize(centroids[codes] + codec.decode(packed))`` (``n x dim`` float32, unit length:
    MaxSim is over unit vectors, as PLAID and ColBERTv2 decode)."""
    return unit_rows(centroids[codes] + codec.decode(packed)).astype(np.float32, copy=False)
