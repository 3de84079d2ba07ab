"""Buckets for tests on a real S3 server: the server started once per session, a fresh bucket per test."""

from __future__ import annotations

import uuid

from chalicelib.storage.s3 import S3Options, S3Storage
from tests import s3servers


def s3_endpoint(pool: dict[str, s3servers.S3Server], name: str) -> str:
    if name not in pool:
        pool[name] = s3servers.start_moto() if name == "moto" else s3servers.start_localstack()
    return pool[name].endpoint


def s3_storage(endpoint: str) -> S3Storage:
    """A fresh bucket on the server, so tests never see each other's objects."""
    options = S3Options(bucket=f"t-{uuid.uuid4().hex[:20]}", endpoint=endpoint, access_key="test", secret_key="test")
    storage = S3Storage.from_options(options)
    assert storage.check(create=True) is None
    return storage
