"""The model-versioned embedding cache: keys, the Parquet store (checksummed parts that heal), cached encoding."""

from daft_retrieval.cache.cached import cached_encode
from daft_retrieval.cache.fingerprint import weights_digest
from daft_retrieval.cache.health import verify
from daft_retrieval.cache.store import EmbeddingCache, default_cache_dir

__all__ = ["EmbeddingCache", "cached_encode", "default_cache_dir", "verify", "weights_digest"]
