"""Object-store settings for Daft's readers: an S3-compatible endpoint (MinIO, moto, R2, ...) and credentials.

Credentials come from the usual places (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, profiles, instance
roles) unless given; gs:// and az:// take Daft's own ``GCSConfig``/``AzureConfig`` through ``IOConfig``.

    >>> load_beir("s3://bucket/scifact", io_config=s3_config(endpoint="http://127.0.0.1:9000"))  # doctest: +SKIP
"""

from __future__ import annotations

import os

import daft

__all__ = ["s3_config"]


def s3_config(
    endpoint: str | None = None, *, anonymous: bool = False, region: str | None = None
) -> daft.io.IOConfig | None:
    """An ``IOConfig`` for S3 at ``endpoint`` (None: AWS), or None when nothing is set (Daft's defaults)."""
    if endpoint is None and not anonymous and region is None:
        return None
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    options = {"key_id": key, "access_key": secret} if key and secret and not anonymous else {}
    return daft.io.IOConfig(
        s3=daft.io.S3Config(endpoint_url=endpoint, region_name=region, anonymous=anonymous, **options)
    )
