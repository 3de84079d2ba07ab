"""KMS KeyRing: data keys from AWS KMS (or any KMS-compatible endpoint: LocalStack, moto).

- ``generate_data_key``: one ``GenerateDataKey`` (AES_256) under the configured key,
  with the context as KMS *encryption context*: KMS binds it to the wrapped key, and
  CloudTrail records it, which is why the envelope puts only the database name in it.
- ``decrypt_data_key``: one ``Decrypt`` with ``KeyId`` pinned to the key id recorded in
  the entity, so a wrapped key is never accepted under a different KMS key.
- The key id recorded is the key ARN KMS answers with, whatever was configured (alias,
  id or ARN): after the alias is moved to a new key, old entities still name the key
  that can open them. KMS's own yearly rotation keeps the ARN and needs nothing here.

The KEK never leaves KMS. Throttling and 5xx are retried by botocore (``standard``
mode); a wrong key, a foreign ciphertext or a changed context is KeyUnavailable (the
entity fails integrity verification); KMS unreachable or refusing access is
KmsUnavailable, answered 503.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.crypto.keyring import DataKey, KeyServiceUnavailable, KeyUnavailable
from chalicelib.crypto.kms_versions import KmsVersionStore

log = logging.getLogger(__name__)

# KMS answers these when the ciphertext, the key or the context does not match.
_NOT_OURS = {"InvalidCiphertextException", "IncorrectKeyException", "NotFoundException"}


KmsUnavailable = KeyServiceUnavailable  # the KMS adapter's name for the port's error


def make_client(
    region: str | None = None, endpoint: str | None = None, credentials: tuple[str, str] | None = None
) -> Any:
    """``credentials``: (access key id, secret) instead of botocore's chain (LocalStack's test/test)."""
    config = Config(
        retries={"mode": "standard", "total_max_attempts": 5},
        connect_timeout=3,
        read_timeout=10,
        tcp_keepalive=True,
        max_pool_connections=64,
    )
    # endpoint None: botocore's own resolution (AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL, AWS).
    key_id, secret = credentials or (None, None)
    session = boto3.session.Session(aws_access_key_id=key_id, aws_secret_access_key=secret)
    return session.client("kms", region_name=region, endpoint_url=endpoint, config=config)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class KmsKeyRing:
    def __init__(self, client: Any, key_id: str, versions: KmsVersionStore | None = None) -> None:
        if not key_id:
            raise ValueError("a KMS key id, ARN or alias is required")
        self._client = client
        self._configured = key_id
        self._arn: str | None = None
        # After `deltadb key rotate` the current master is the one _keys/master.json names.
        self._versions = versions

    @property
    def client(self) -> Any:
        return self._client

    @property
    def versions(self) -> KmsVersionStore | None:
        return self._versions

    @property
    def configured_key_id(self) -> str:
        return self._configured

    def _rotated(self) -> str | None:
        return self._versions.current() if self._versions is not None else None

    @property
    def active_key_id(self) -> str:
        """The current version's ARN: the recorded one after a rotation, else the configured key's
        (once known: resolve(), or the first data key); never calls KMS."""
        return self._rotated() or self._arn or self._configured

    def resolve(self) -> None:
        """Learn the configured key's ARN; on failure keep the configured name (the first data key tells)."""
        try:
            self._arn = str(self._client.describe_key(KeyId=self._configured)["KeyMetadata"]["Arn"])
        except (ClientError, BotoCoreError) as exc:
            log.warning("could not look up KMS key %s: %s", self._configured, type(exc).__name__)

    def check(self) -> str | None:
        """Why the key cannot be used (missing, disabled, no access, unreachable), or None."""
        try:
            key = self._client.describe_key(KeyId=self._configured)["KeyMetadata"]
            if key.get("KeyState") != "Enabled":
                return f"KMS key {key['Arn']} is {key.get('KeyState')}, not Enabled"
            if key.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
                return f"KMS key {key['Arn']} is not a symmetric encryption key"
            self.generate_data_key({"purpose": "deltadb-check"})
        except ClientError as exc:
            return f"KMS key {self._configured}: {_code(exc)}: {exc.response.get('Error', {}).get('Message', '')}"
        except (BotoCoreError, KmsUnavailable) as exc:
            return f"KMS key {self._configured}: {exc}"
        return None

    def generate_data_key(self, context: Mapping[str, str]) -> DataKey:
        rotated = self._rotated()
        try:
            out = self._client.generate_data_key(
                KeyId=rotated or self._configured, KeySpec="AES_256", EncryptionContext=dict(context)
            )
        except ClientError as exc:
            raise KmsUnavailable(f"KMS GenerateDataKey failed: {_code(exc)}") from None
        except BotoCoreError as exc:
            raise KmsUnavailable(f"KMS GenerateDataKey failed: {type(exc).__name__}") from None
        if rotated is None:
            self._arn = str(out["KeyId"])
        return DataKey(plaintext=out["Plaintext"], wrapped=out["CiphertextBlob"], key_id=str(out["KeyId"]))

    def wrap_data_key(self, plaintext: bytes, context: Mapping[str, str]) -> DataKey:
        try:
            out = self._client.encrypt(
                KeyId=self._rotated() or self._configured, Plaintext=plaintext, EncryptionContext=dict(context)
            )
        except ClientError as exc:
            raise KmsUnavailable(f"KMS Encrypt failed: {_code(exc)}") from None
        except BotoCoreError as exc:
            raise KmsUnavailable(f"KMS Encrypt failed: {type(exc).__name__}") from None
        return DataKey(plaintext=plaintext, wrapped=out["CiphertextBlob"], key_id=str(out["KeyId"]))

    def decrypt_data_key(self, key_id: str, wrapped: bytes, context: Mapping[str, str]) -> bytes:
        try:
            out = self._client.decrypt(CiphertextBlob=wrapped, KeyId=key_id, EncryptionContext=dict(context))
        except ClientError as exc:
            code = _code(exc)
            if code in _NOT_OURS:
                raise KeyUnavailable(f"KMS refused the wrapped key: {code}") from None
            raise KmsUnavailable(f"KMS Decrypt failed: {code}") from None
        except BotoCoreError as exc:
            raise KmsUnavailable(f"KMS Decrypt failed: {type(exc).__name__}") from None
        plaintext: bytes = out["Plaintext"]
        if len(plaintext) != 32:
            raise KeyUnavailable("KMS returned a data key of the wrong size")
        return plaintext
