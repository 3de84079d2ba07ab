"""Builders of the adapters from Settings: storage, the master keyring, the invoker.

The composition root (chalicelib/bootstrap.py) assembles them into a Runtime; the
``deltadb`` CLI's preflight and admin commands call them too. Each imports its adapter
itself, so a process loads only what it builds (a route-side Lambda never loads boto3's
S3 or the crypto stack).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from chalicelib import provisioning
from chalicelib.config import Settings
from chalicelib.handlers.protocol import FUNCTIONS
from chalicelib.invoke.base import Invoker
from chalicelib.localstack import s3_credentials, s3_endpoint
from chalicelib.metrics.base import NO_METRICS, Metrics

if TYPE_CHECKING:
    from chalicelib.crypto.keyring import KeyRing
    from chalicelib.crypto.kms_keyring import KmsKeyRing
    from chalicelib.handlers.dispatch import Handler
    from chalicelib.storage.base import Storage


def build_storage(settings: Settings) -> Storage:
    if settings.backend == "s3":
        from chalicelib.storage.s3 import S3Options, S3Storage  # boto3: only where S3 is used

        access, secret = s3_credentials(settings)
        return S3Storage.from_options(
            S3Options(
                bucket=settings.s3_bucket,
                endpoint=s3_endpoint(settings),
                access_key=access,
                secret_key=secret,
                region=settings.s3_region,
                use_ssl=settings.s3_use_ssl,
                retry_mode=settings.s3_retry_mode,
                unquoted_if_match=settings.s3_unquoted_etag,
                create_bucket=settings.s3_create_bucket,
            )
        )
    from chalicelib.storage.fs import FileStorage

    return FileStorage(settings.data_dir)


def build_kms_keyring(settings: Settings, storage: Storage | None = None) -> KmsKeyRing:
    """With ``storage``, the master versions recorded there (``_keys/master.json``) are followed."""
    from chalicelib.crypto.kms_keyring import KmsKeyRing, make_client
    from chalicelib.crypto.kms_versions import KmsVersionStore

    assert settings.kms_key_id is not None
    versions = KmsVersionStore(storage) if storage is not None else None
    if settings.localstack:
        from chalicelib import localstack

        region = settings.kms_region or localstack.REGION
        client = make_client(region, localstack.endpoints().kms, localstack.CREDENTIALS)
        return KmsKeyRing(client, settings.kms_key_id, versions)
    return KmsKeyRing(make_client(settings.kms_region), settings.kms_key_id, versions)


def build_keyring(settings: Settings, secrets: provisioning.Secrets, storage: Storage | None = None) -> KeyRing:
    from chalicelib.crypto.local_keyring import LocalKeyRing

    if settings.kms_key_id is not None:
        ring = build_kms_keyring(settings, storage)
        ring.resolve()  # once, here: the heartbeat (DescribeWorker) must never wait on KMS
        return ring
    if settings.master_key is not None:
        return LocalKeyRing.from_master_key(settings.master_key)
    if secrets.key_file is None:
        raise RuntimeError("no master key and no key file configured")
    return LocalKeyRing.from_file(secrets.key_file)


def build_invoker(
    settings: Settings, local: Callable[[str], Handler], strict: bool = False, metrics: Metrics = NO_METRICS
) -> Invoker:
    """``local(function)`` is the handler that answers a function's in-process invocations."""
    s = settings
    if s.invoker == "pool":
        from chalicelib.invoke.pool import PoolInvoker

        assert s.worker_secret is not None
        return PoolInvoker(s.worker_urls, s.worker_secret, timeout=s.worker_timeout, metrics=metrics)
    if s.invoker == "lambda":
        from chalicelib.invoke.lambda_ import LambdaInvoker, transport

        signed = s.lambda_endpoint is not None  # local workers check our signature
        client = transport(s.lambda_endpoint, s.worker_secret if signed else None, timeout=s.worker_timeout, attempts=3)
        return LambdaInvoker(client, s.lambda_function_names(FUNCTIONS))
    from chalicelib.invoke.inprocess import InProcessInvoker

    return InProcessInvoker(local, strict=strict)
