"""Settings for Daft's remote readers: timeouts and retries bounded by one ``timeout``, an S3-compatible endpoint
(MinIO, moto, R2, ...) and credentials.

Credentials come from the usual places (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, profiles, instance
roles) unless ``anonymous``; gs:// and az:// take Daft's own ``GCSConfig``/``AzureConfig`` through ``IOConfig``.

``timeout`` (seconds; default ``$DAFT_RETRIEVAL_TIMEOUT``, else 60) is the most a remote file may keep a read
waiting, retries included: Daft's connect and first-byte timeouts are ``timeout / 4`` each, with one try over
HTTP (Daft asks twice: about ``timeout / 2``) and two on S3, so a server that goes silent fails within
``timeout`` even when the failed read is read again to find the line at fault. Daft's own defaults took 190 s
for a silent HTTP server and 200 s for a refused S3 endpoint.

    >>> load_beir("s3://bucket/scifact", io_config=s3_config(endpoint="http://127.0.0.1:9000"))  # doctest: +SKIP
"""

from __future__ import annotations

import os

import daft

from daft_retrieval.runner import DEFAULT_TIMEOUT, TIMEOUT_ENV, remote_timeout

__all__ = ["DEFAULT_TIMEOUT", "TIMEOUT_ENV", "remote_timeout", "s3_config"]

_S3_TRIES = 2


def s3_config(
    endpoint: str | None = None, *, anonymous: bool = False, region: str | None = None, timeout: float | None = None
) -> daft.io.IOConfig:
    """An ``IOConfig`` for HTTP(S) and for S3 at ``endpoint`` (None: AWS), its timeouts bounded by ``timeout``."""
    seconds = remote_timeout(timeout)
    bounds = {
        "connect_timeout_ms": max(1, int(seconds * 1000 / 4)),
        "read_timeout_ms": max(1, int(seconds * 1000 / 4)),
        "retry_initial_backoff_ms": max(1, min(500, int(seconds * 1000 / 20))),
    }
    if endpoint is not None or region is not None:
        region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    options = {"key_id": key, "access_key": secret} if key and secret and not anonymous else {}
    s3 = daft.io.S3Config(
        endpoint_url=endpoint,
        region_name=region,
        anonymous=anonymous,
        retry_mode="standard",
        num_tries=_S3_TRIES,
        **bounds,
        **options,
    )
    return daft.io.IOConfig(s3=s3, http=daft.io.HTTPConfig(num_tries=1, **bounds))
