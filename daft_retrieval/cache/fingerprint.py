"""Cache keys: a digest of a model's weights for the fingerprint of everything that decides an embedding, and a
128-bit hash of each text.

A model descriptor's fingerprint (:meth:`daft_retrieval.encode.descriptor.ModelConfig.fingerprint`) hashes (as
sorted JSON) the kind of embedding (dense, sparse, tokens), the model spec and a digest of its weights folder
(every file's name, size and content: another revision or fine-tune is another entry), the role (query or
document), the prompt or markers, max_seq_length, normalisation and the dtype actually computed in (fp16 is used
on CUDA only: asked on CPU, the vectors are fp32 and share the fp32 entry). Pooling and the model's own prompts
live in its folder, so the digest covers them. Getting this wrong is how public caches served
query embeddings for documents (MTEB #5383) or stale vectors after a model update (sentence-transformers #3870).

Texts are keyed by two independent 64-bit hashes computed natively by Daft (XXH3-64 and the first 64 bits of
SHA-1): a collision needs both to collide.

    >>> fp, meta = DenseConfig().fingerprint("query")  # doctest: +SKIP
    >>> meta["role"], len(fp)  # doctest: +SKIP
    ('query', 16)
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable

import daft
from daft import Expression

from daft_retrieval.resolve import resolve_model

__all__ = ["HASH_1", "HASH_2", "SCHEME", "text_hashes", "weights_digest"]

HASH_1, HASH_2 = "_h1", "_h2"
SCHEME = "xxh3_64+sha1_64/1"  # bump when the text hashing changes: old entries are then never matched

_DIGESTS: dict[tuple, str] = {}
_LOCK = threading.Lock()


def text_hashes(text: Expression) -> tuple[Expression, Expression]:
    """The two 64-bit hashes of a text column, as ``_h1`` and ``_h2``."""
    text = text.fill_null("")
    return (
        daft.functions.hash(text, hash_function="xxhash3_64").alias(HASH_1),
        daft.functions.hash(text, hash_function="sha1").alias(HASH_2),
    )


def _model_folder(spec: str, resolve: Callable[[str], str]) -> str:
    path = resolve(spec)
    if os.path.isdir(path):
        return path
    from huggingface_hub import snapshot_download  # a hub id: the local snapshot (downloaded if needed)

    return snapshot_download(path)


def weights_digest(spec: str, resolve: Callable[[str], str] = resolve_model) -> str:
    """SHA-256 over every file of the model's folder (relative name, size, content), once per process.

    ``resolve`` maps the spec to a folder, or leaves a hub id (then the local snapshot is used).
    """
    folder = _model_folder(spec, resolve)
    files = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files += [os.path.join(root, n) for n in sorted(names) if not n.startswith(".")]
    key = tuple((f, os.path.getsize(f), os.path.getmtime(f)) for f in files)
    with _LOCK:
        if key in _DIGESTS:
            return _DIGESTS[key]
    digest = hashlib.sha256()
    for f in files:
        digest.update(os.path.relpath(f, folder).encode() + b"\0" + str(os.path.getsize(f)).encode() + b"\0")
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    with _LOCK:
        _DIGESTS[key] = digest.hexdigest()
    return _DIGESTS[key]
