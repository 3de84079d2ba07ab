"""Composition root: builds every adapter from Settings, once, on first use.

Everything is built here and only here: the app (app.py, through chalicelib/webapp.py),
the ``deltadb`` CLI's preflight (local/) and the tests all go through these builders.
Importing app.py builds nothing; the first request (or Lambda invocation) does, so a
cold start pays only for the side it runs: the routes build the services (auth, schema
cache, invoker), the processing handlers build storage and the keyring. For the same
reason each builder imports its adapters itself: a route-side Lambda never loads boto3's
S3 or the crypto stack, a meta handler never loads jsonschema or PyJWT.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from chalicelib import provisioning
from chalicelib.builders import build_invoker, build_keyring, build_storage
from chalicelib.config import Settings
from chalicelib.handlers.protocol import ENTITY_FUNCTION, FUNCTIONS
from chalicelib.invoke.base import Event, Invoker, Result
from chalicelib.lazy import once
from chalicelib.logs import setup_logging
from chalicelib.metrics.base import NO_METRICS, Metrics, cache_observer
from chalicelib.metrics.builders import build_metrics, instrument_storage

if TYPE_CHECKING:
    from chalicelib.auth.oidc import OidcVerifier
    from chalicelib.crypto.hierarchy import KeyHierarchy
    from chalicelib.crypto.keyring import KeyRing
    from chalicelib.crypto.master_versions import MasterVersions
    from chalicelib.handlers.dispatch import Handler
    from chalicelib.handlers.entity_handler import EntityHandler
    from chalicelib.handlers.meta_handler import MetaHandler
    from chalicelib.key_lifecycle import KeyLifecycle
    from chalicelib.services import Services
    from chalicelib.storage.base import Storage

log = logging.getLogger("deltadb")


class Processing:
    """The processing side of one process, each part built on first use.

    The two functions need different parts: ``meta_worker`` only storage, ``entity_worker``
    storage and the keyring. Built apart, a meta handler never loads a keyring nor
    calls KMS (its deployed role may not).
    """

    def __init__(
        self,
        settings: Settings,
        secrets: Callable[[], provisioning.Secrets],
        storage: Storage | None = None,
        keyring: KeyRing | None = None,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._settings, self._secrets, self._metrics = settings, secrets, metrics
        if settings.role == "main" and storage is None:
            raise RuntimeError("the main worker holds no keys and no storage")
        self._given_storage = storage
        if keyring is not None:
            self.__dict__["keyring"] = keyring

    @once
    def storage(self) -> Storage:
        storage = self._given_storage or build_storage(self._settings)
        return instrument_storage(storage, self._settings, self._metrics)

    @once
    def keyring(self) -> KeyRing:
        """The master key versions."""
        return build_keyring(self._settings, self._secrets(), self.storage)

    @once
    def master_versions(self) -> MasterVersions:
        """The master versions as the operator manages them (`deltadb key ...`, shred)."""
        from chalicelib.crypto.master_versions import versions_for

        return versions_for(self.keyring, self.storage)

    @once
    def key_lifecycle(self) -> KeyLifecycle:
        from chalicelib.key_lifecycle import KeyLifecycle

        return KeyLifecycle(self.storage, self.keys, self.master_versions, self._settings.key_cache_seconds)

    @property
    def keys(self) -> KeyHierarchy:
        """The whole key hierarchy (master -> database keys) the entity handler seals with."""
        return self.entity_handler.entities.keyring

    @once
    def entity_handler(self) -> EntityHandler:
        from chalicelib.entities import EntityStore
        from chalicelib.handlers.entity_handler import EntityHandler

        s = self._settings
        entities = EntityStore(
            self.storage, self.keyring, s.cache_entries, s.key_cache, cache_observer(self._metrics, "entities")
        )
        tags = {"mode": "in-process"} if s.role == "all" else {"mode": "worker"}
        sweep = s.backend == "fs"  # on S3 the bucket's lifecycle rule removes expired operations
        return EntityHandler(
            entities, s.worker_id, tags, operation_retention=s.operation_retention_seconds, sweep_operations=sweep
        )

    @once
    def meta_handler(self) -> MetaHandler:
        from chalicelib.handlers.meta_handler import MetaHandler

        return MetaHandler(self.storage, cache_observer(self._metrics, "key_records"))

    def handler(self, function: str) -> Handler:
        return self.entity_handler if function == ENTITY_FUNCTION else self.meta_handler


class Runtime:
    """Everything one process builds, from one Settings, each part on first use (thread-safe).

    Production builds it from the environment (``Runtime()``); tests and tools pass their
    own settings and, where they want, adapters to use instead of building them.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        storage: Storage | None = None,
        keyring: KeyRing | None = None,
        invoker: Invoker | None = None,
        metrics: Metrics | None = None,
        strict_invoke: bool = False,
    ) -> None:
        if settings is not None:
            self.__dict__["settings"] = settings
        if metrics is not None:
            self.__dict__["metrics"] = metrics
        self._storage, self._keyring, self._invoker = storage, keyring, invoker
        self.strict_invoke = strict_invoke  # in-process invocations round-trip through JSON

    function_names = FUNCTIONS

    @once
    def settings(self) -> Settings:
        settings = Settings.from_env()
        setup_logging(settings)
        return settings

    @once
    def secrets(self) -> provisioning.Secrets:
        secrets = provisioning.ensure(self.settings)
        if secrets.generated_admin_key:
            # Printed (not logged) once, so it reaches the operator's terminal only.
            print(
                f"Generated admin key (shown once; only its hash is kept): {secrets.generated_admin_key}",
                file=sys.stderr,
                flush=True,
            )
        return secrets

    @once
    def metrics(self) -> Metrics:
        return build_metrics(self.settings)

    # -- processing side ---------------------------------------------------------
    @once
    def processing(self) -> Processing:
        return Processing(self.settings, lambda: self.secrets, self._storage, self._keyring, self.metrics)

    def _local_handler(self, function: str) -> Handler:
        return self.processing.handler(function)

    def handle(self, function: str, event: Event) -> Result:
        """Entry point of the processing functions (Lambda, local workers, in-process)."""
        return self.processing.handler(function)(event)

    # -- route side --------------------------------------------------------------
    @once
    def invoker(self) -> Invoker:
        return self._invoker or build_invoker(self.settings, self._local_handler, self.strict_invoke, self.metrics)

    def _oidc(self) -> OidcVerifier:
        from chalicelib.auth.oidc import build_oidc

        return build_oidc(self.settings)

    @once
    def services(self) -> Services:
        from chalicelib.auth.admin import AdminKey
        from chalicelib.auth.authenticator import Authenticator
        from chalicelib.auth.sessions import SessionTokens
        from chalicelib.handler_client import HandlerClient
        from chalicelib.records import HandlerRecords, RememberedKeys
        from chalicelib.schemas import SchemaCache
        from chalicelib.services import Services
        from chalicelib.services.admin import AdminService
        from chalicelib.services.entities import EntityService
        from chalicelib.services.keys import KeyService
        from chalicelib.services.schemas import SchemaService
        from chalicelib.services.sessions import SessionService

        s, sec = self.settings, self.secrets
        if s.dev_mode:
            log.warning(
                "DEV MODE: no admin key; POST /api/login with any client_id yields a "
                "read+write token. Never run a deployed stage like this."
            )
        handlers = HandlerClient(self.invoker, metrics=self.metrics)
        records = HandlerRecords(handlers)
        keys = RememberedKeys(
            records, s.apikey_revalidate_seconds, on_cache_lookup=cache_observer(self.metrics, "remembered_keys")
        )
        auth = Authenticator(
            AdminKey(sec.admin_sha256) if sec.admin_sha256 else None,
            SessionTokens(sec.session_secret, s.token_ttl_seconds, cache_observer(self.metrics, "sessions")),
            keys,
            s.dev_mode,
            self._oidc() if s.oidc_issuer else None,  # no OIDC: not even its module (and PyJWT) is imported
        )
        schema_cache = SchemaCache(records, s.schema_revalidate, cache_observer(self.metrics, "schemas"))
        return Services(
            auth=auth,
            entities=EntityService(handlers, schema_cache),
            schemas=SchemaService(handlers, schema_cache),
            keys=KeyService(handlers, keys.forget),
            sessions=SessionService(auth),
            admin=AdminService(handlers),
            max_body_bytes=s.max_body_bytes,
        )
