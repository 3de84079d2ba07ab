"""What the ``key`` and ``shred`` commands share: the processing side built from the flags, errors -> exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable

from chalicelib import audit
from chalicelib.bootstrap import Processing
from chalicelib.config import ConfigError
from chalicelib.crypto.key_file import KeyFileError
from chalicelib.crypto.keyring import KeyServiceUnavailable
from chalicelib.crypto.master_versions import VersionsRefused
from chalicelib.errors import DeltaError
from chalicelib.key_lifecycle import KeyLifecycle, Refused
from chalicelib.storage.base import StorageUnavailable
from local import store


def lifecycle() -> KeyLifecycle:
    """The key lifecycle on the store and keys the flags name (as `serve` would use them)."""
    settings = store.settings()
    secrets = store.existing_secrets(settings)  # never create key material from an admin command
    return Processing(settings, lambda: secrets).key_lifecycle


def run_guarded(action: str, target: str, body: Callable[[], int]) -> int:
    """Run ``body``; a failure is one sentence on stderr, an exit code and an audit line."""
    actor = audit.cli_actor()
    try:
        code = body()
    except (ConfigError, KeyFileError) as exc:
        print(f"deltadb: configuration error: {exc}", file=sys.stderr)
        return 2
    except (Refused, VersionsRefused) as exc:
        audit.record(action, actor=actor, target=target, result=audit.REFUSED)
        print(f"deltadb: {exc}", file=sys.stderr)
        return 1
    except DeltaError as exc:  # a bad name (400) and the like
        print(f"deltadb: {exc.message}", file=sys.stderr)
        return 2
    except (StorageUnavailable, KeyServiceUnavailable, OSError) as exc:
        audit.record(action, actor=actor, target=target, result=audit.FAILED)
        print(f"deltadb: {action} failed: {exc}", file=sys.stderr)
        return 1
    return code
