"""Composition root: builds every adapter from Settings, once, on first use.

Nothing else reads configuration. Importing app.py builds nothing; the first
request (or Lambda invocation) does, so a cold start pays only for what it uses:
the routes build the Api (auth, schema cache, invoker), the processing handlers
build storage and the keyring.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib import provisioning
from chalicelib.api import Api
from chalicelib.auth.admin import AdminKey
from chalicelib.auth.authenticator import Authenticator
from chalicelib.auth.sessions import SessionTokens
from chalicelib.config import Settings
from chalicelib.crypto.keyring import KeyRing
from chalicelib.crypto.kms_keyring import KmsKeyRing
from chalicelib.crypto.kms_keyring import make_client as make_kms_client
from chalicelib.crypto.local_keyring import LocalKeyRing
from chalicelib.entities import EntityStore
from chalicelib.handlers.entity_worker import EntityWorker
from chalicelib.handlers.meta_worker import MetaWorker
from chalicelib.invoke.base import ENTITY_WORKER, META_WORKER, Invoker
from chalicelib.invoke.inprocess import InProcessInvoker
from chalicelib.invoke.lambda_ import LambdaInvoker
from chalicelib.invoke.lambda_ import make_client as make_lambda_client
from chalicelib.invoke.pool import PoolInvoker
from chalicelib.remote import Workers
from chalicelib.schemas import SchemaCache
from chalicelib.storage.base import Storage
from chalicelib.storage.fs import FileStorage
from chalicelib.storage.s3 import S3Options, S3Storage

log = logging.getLogger("deltadb")

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass
class WorkerSide:
    storage: Storage
    keyring: KeyRing
    entity_worker: EntityWorker
    meta_worker: MetaWorker


def s3_options(settings: Settings) -> S3Options:
    return S3Options(
        bucket=settings.s3_bucket,
        endpoint=settings.s3_endpoint,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key,
        region=settings.s3_region,
        use_ssl=settings.s3_use_ssl,
        retry_mode=settings.s3_retry_mode,
        unquoted_if_match=settings.s3_unquoted_etag,
        create_bucket=settings.s3_create_bucket,
    )


def build_storage(settings: Settings) -> Storage:
    if settings.backend == "s3":
        return S3Storage.from_options(s3_options(settings))
    return FileStorage(settings.data_dir)


def build_kms_keyring(settings: Settings) -> KmsKeyRing:  # [shim from main]
    assert settings.kms_key_id is not None
    return KmsKeyRing(make_kms_client(settings.kms_region), settings.kms_key_id)


def build_keyring(settings: Settings, secrets: provisioning.Secrets) -> KeyRing:
    if settings.kms_key_id is not None:
        ring = KmsKeyRing(make_kms_client(settings.kms_region), settings.kms_key_id)
        ring.resolve()  # once, here: worker.info (the heartbeat) must never wait on KMS
        return ring
    if settings.master_key is not None:
        return LocalKeyRing.from_master_key(settings.master_key)
    if secrets.key_file is None:
        raise RuntimeError("no master key and no key file configured")
    return LocalKeyRing.from_file(secrets.key_file)


class Runtime:
    """Holds the built adapters for one process. Thread-safe lazy construction."""

    def __init__(self, handlers: Mapping[str, Handler]) -> None:
        self._handlers = dict(handlers)
        self._lock = threading.RLock()
        self._settings: Settings | None = None
        self._secrets: provisioning.Secrets | None = None
        self._worker: WorkerSide | None = None
        self._api: Api | None = None
        self._invoker: Invoker | None = None
        self.strict_invoke = False

    # -- configuration -----------------------------------------------------------
    def configure(
        self,
        settings: Settings,
        *,
        storage: Storage | None = None,
        keyring: KeyRing | None = None,
        invoker: Invoker | None = None,
        strict_invoke: bool = False,
    ) -> None:
        """Replace the configuration (tests, the CLI). Drops everything built so far."""
        with self._lock:
            self._settings = settings
            self._secrets = None
            self._api = None
            self._invoker = invoker
            self.strict_invoke = strict_invoke
            self._worker = None
            if storage is not None or keyring is not None:
                st = storage or build_storage(settings)
                kr = keyring or build_keyring(settings, self.secrets)
                self._worker = self._make_worker(st, kr)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            with self._lock:
                if self._settings is None:
                    self._settings = Settings.from_env()
                    _setup_logging(self._settings)
        return self._settings

    @property
    def secrets(self) -> provisioning.Secrets:
        if self._secrets is None:
            with self._lock:
                if self._secrets is None:
                    self._secrets = provisioning.ensure(self.settings)
                    if self._secrets.generated_admin_key:
                        # Printed (not logged) once, so it reaches the operator's terminal only.
                        print(
                            f"Generated admin key (shown once; only its hash is kept): "
                            f"{self._secrets.generated_admin_key}",
                            file=sys.stderr,
                            flush=True,
                        )
        return self._secrets

    # -- processing side ---------------------------------------------------------
    def _make_worker(self, storage: Storage, keyring: KeyRing) -> WorkerSide:
        s = self.settings
        entities = EntityStore(storage, keyring, cache_entries=s.cache_entries)
        tags = {"mode": "in-process"} if s.role == "all" else {"mode": "worker"}
        return WorkerSide(storage, keyring, EntityWorker(entities, s.worker_id, tags), MetaWorker(storage))

    @property
    def handler_names(self) -> list[str]:
        return [ENTITY_WORKER, META_WORKER]

    function_names = handler_names  # [shim from main: the rename]

    @property
    def worker(self) -> WorkerSide:
        if self._worker is None:
            with self._lock:
                if self._worker is None:
                    if self.settings.role == "main":
                        raise RuntimeError("the main worker holds no keys and no storage")
                    s = self.settings
                    self._worker = self._make_worker(build_storage(s), build_keyring(s, self.secrets))
        return self._worker

    def handle(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        """Entry point of the processing handlers declared in app.py."""
        worker = self.worker
        return worker.entity_worker(event) if function == ENTITY_WORKER else worker.meta_worker(event)

    # -- route side --------------------------------------------------------------
    @property
    def invoker(self) -> Invoker:
        if self._invoker is None:
            with self._lock:
                if self._invoker is None:
                    self._invoker = self._build_invoker(self.settings)
        return self._invoker

    def _build_invoker(self, s: Settings) -> Invoker:
        if s.invoker == "pool":
            assert s.worker_secret is not None
            return PoolInvoker(s.worker_urls, s.worker_secret, timeout=s.worker_timeout)
        if s.invoker == "lambda":
            local = s.lambda_endpoint is not None  # local workers check our signature
            client = make_lambda_client(
                s.lambda_endpoint, s.worker_secret if local else None, timeout=s.worker_timeout, attempts=3
            )
            return LambdaInvoker(client, s.lambda_function_names((ENTITY_WORKER, META_WORKER)))
        return InProcessInvoker(
            {name: self._handlers[name] for name in (ENTITY_WORKER, META_WORKER)},
            strict=self.strict_invoke,
        )

    @property
    def api(self) -> Api:
        if self._api is None:
            with self._lock:
                if self._api is None:
                    s, sec = self.settings, self.secrets
                    if s.dev_mode:
                        log.warning(
                            "DEV MODE: no admin key; POST /api/login with any client_id yields a "
                            "read+write token. Never run a deployed stage like this."
                        )
                    workers = Workers(self.invoker)
                    auth = Authenticator(
                        AdminKey(sec.admin_sha256) if sec.admin_sha256 else None,
                        SessionTokens(sec.session_secret, s.token_ttl_seconds),
                        workers,
                        s.dev_mode,
                    )
                    schemas = SchemaCache(workers, s.schema_revalidate)
                    self._api = Api(auth, workers, schemas, s.max_body_bytes)
        return self._api


QUIET_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")


def _setup_logging(settings: Settings) -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=settings.log_level,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    logging.getLogger("deltadb").setLevel(settings.log_level)
    # At DEBUG, botocore logs whole request and response bodies: KMS data keys in clear,
    # S3 objects, signed headers. Those loggers never go below INFO here.
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(max(logging.INFO, logging.getLogger(noisy).level))
