"""First-start secrets for self-hosted deployments, kept in the secrets folder.

The secrets folder sits outside the storage root (default: ``<data-dir>-secrets``
beside it), so a copy of the data folder or bucket holds no key material:

- ``keyring.json``  local KEKs (mode 0600), unless DELTADB_MASTER_KEY is set;
- ``admin.json``    SHA-256 of the generated admin key (the key itself is printed once);
- ``session.key``   the JWT signing key (32 random bytes), unless DELTADB_SESSION_SECRET is set.

Every file is created with ``O_EXCL`` semantics, so processes starting together agree.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from chalicelib.auth.digest import sha256_hex
from chalicelib.config import ConfigError, Settings
from chalicelib.files import create_exclusive


@dataclass(frozen=True)
class Secrets:
    admin_sha256: str | None
    session_secret: bytes
    key_file: Path | None
    generated_admin_key: str | None  # set only by the call that created it


def ensure(settings: Settings) -> Secrets:
    """Load (and on first start create) the secrets the settings do not supply."""
    if settings.secrets_id and settings.role != "worker":
        settings = with_stored_secrets(settings)
    if settings.in_lambda:
        return _from_settings_only(settings)
    folder = settings.resolved_secrets_dir
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    key_file = None
    # The main worker holds no KEK; with KMS the KEK never leaves KMS.
    if settings.master_key is None and settings.kms_key_id is None and settings.role != "main":
        from chalicelib.crypto.local_keyring import LocalKeyRing  # cryptography: only where a keyring is made

        key_file = settings.key_file or folder / "keyring.json"
        LocalKeyRing.create_file(key_file)

    session_secret = settings.session_secret
    if session_secret is None:
        path = folder / "session.key"
        create_exclusive(path, base64.b64encode(secrets.token_bytes(32)))
        session_secret = base64.b64decode(path.read_bytes())

    generated = None
    admin_sha256 = settings.admin_key_sha256
    if settings.admin_key is not None:
        admin_sha256 = sha256_hex(settings.admin_key)
    elif admin_sha256 is None and not settings.dev_mode:
        path = folder / "admin.json"
        candidate = "ak_" + secrets.token_urlsafe(32)
        if create_exclusive(path, json.dumps({"sha256": sha256_hex(candidate)}).encode()):
            generated = candidate
        admin_sha256 = json.loads(path.read_text())["sha256"]
    return Secrets(admin_sha256, session_secret, key_file, generated)


def _from_settings_only(settings: Settings) -> Secrets:
    """In Lambda nothing is generated: a stage must be configured completely.

    A processing handler (role worker) authenticates nobody, so it gets neither the
    session secret nor the admin key hash; the keys it needs are checked by Settings.
    """
    if settings.role == "worker":
        return Secrets(None, b"", settings.key_file, None)
    if settings.session_secret is None:
        raise ConfigError("DELTADB_SESSION_SECRET is required in a deployed stage")
    admin = sha256_hex(settings.admin_key) if settings.admin_key else settings.admin_key_sha256
    if admin is None:
        raise ConfigError("DELTADB_ADMIN_KEY or DELTADB_ADMIN_KEY_SHA256 is required in a deployed stage")
    return Secrets(admin, settings.session_secret, settings.key_file, None)


def with_stored_secrets(settings: Settings) -> Settings:
    """The settings with the session secret and admin-key hash read from AWS Secrets Manager.

    Secrets in a Lambda function's environment are readable by anyone allowed
    ``lambda:GetFunctionConfiguration``; in Secrets Manager only the role that may read
    that one secret sees them. Read once per process at start (the Runtime keeps them).
    """
    from aws_lambda_powertools.utilities import parameters  # boto3: only where a stage keeps its secrets there

    assert settings.secrets_id is not None
    try:
        doc = parameters.get_secret(settings.secrets_id, transform="json", max_age=300)
    except parameters.exceptions.GetParameterError as exc:
        raise ConfigError(f"DELTADB_SECRETS_ID: cannot read secret {settings.secrets_id!r}: {exc}") from None
    except parameters.exceptions.TransformParameterError:
        raise ConfigError("DELTADB_SECRETS_ID: the secret must be a JSON object") from None
    session = doc.get("session_secret") if isinstance(doc, dict) else None
    admin = doc.get("admin_key_sha256") if isinstance(doc, dict) else None
    if not isinstance(session, str) or len(session.encode()) < 32:
        raise ConfigError("DELTADB_SECRETS_ID: 'session_secret' must be a string of at least 32 bytes")
    if not isinstance(admin, str) or len(admin) != 64 or any(c not in "0123456789abcdef" for c in admin.lower()):
        raise ConfigError("DELTADB_SECRETS_ID: 'admin_key_sha256' must be 64 hex digits")
    return replace(settings, session_secret=session.encode(), admin_key_sha256=admin.lower(), admin_key=None)
