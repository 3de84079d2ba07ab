"""Master key versions as the operator manages them: list, rotate, destroy.

One adapter per kind of master (the same three the KeyRing port has):

- ``FileVersions``: the local keyring file (chalicelib/crypto/key_file.py); running
  processes pick a change up by themselves (LocalKeyRing re-reads the file).
- ``KmsVersions``: KMS keys, recorded in the storage (chalicelib/crypto/kms_versions.py).
  Rotation adopts a given key or creates one (symmetric); destroying a version disables
  the KMS key and schedules its deletion after 7 days, the minimum KMS allows.
- ``StaticVersions``: ``DELTADB_MASTER_KEY``, one version that cannot change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.crypto import key_file
from chalicelib.crypto.key_file import ACTIVE, DESTROYED, ENABLED
from chalicelib.crypto.keyring import KeyRing
from chalicelib.crypto.kms_keyring import KmsKeyRing
from chalicelib.crypto.kms_versions import KmsVersionStore
from chalicelib.crypto.local_keyring import LocalKeyRing
from chalicelib.storage.base import Storage, VersionMismatch
from chalicelib.timestamps import rfc3339

KMS_DELETION_DAYS = 7  # the shortest pending window KMS allows


class VersionsRefused(Exception):
    """The change asked for is not possible; the message is one plain sentence."""


@dataclass(frozen=True, slots=True)
class MasterVersion:
    id: str
    created_at: str | None
    state: str  # active (the current one), enabled, destroyed
    destroyed_at: str | None = None

    @property
    def current(self) -> bool:
        return self.state == ACTIVE


class MasterVersions(Protocol):
    def list(self) -> list[MasterVersion]: ...

    def rotate(self, new_key_id: str | None = None) -> str:
        """Make a new version current; return its id."""

    def destroy(self, key_id: str) -> str:
        """Destroy a version's material (never the current one); return what was done, in words."""


def _now() -> str:
    return rfc3339(datetime.now(UTC))


def _check_destroyable(versions: list[MasterVersion], key_id: str) -> None:
    found = next((v for v in versions if v.id == key_id), None)
    if found is None:
        raise VersionsRefused(f"there is no master key version {key_id!r} (see `deltadb key list`)")
    if found.current:
        raise VersionsRefused(f"{key_id} is the current master key version; rotate first (`deltadb key rotate`)")
    if found.state == DESTROYED:
        raise VersionsRefused(f"{key_id} has already been retired")


class FileVersions:
    def __init__(self, path: Path, ring: LocalKeyRing) -> None:
        self.path, self.ring = path, ring

    def list(self) -> list[MasterVersion]:
        try:
            _active, keys = key_file.read(self.path)
            raw = {k["id"]: k for k in json.loads(self.path.read_bytes())["keys"]}
        except (key_file.KeyFileError, OSError) as exc:
            raise VersionsRefused(str(exc)) from None
        return [MasterVersion(k.id, k.created_at, k.state, raw[k.id].get("destroyed_at")) for k in keys]

    def rotate(self, new_key_id: str | None = None) -> str:
        if new_key_id is not None:
            raise VersionsRefused("--kms-new-key-id applies to a KMS master only")
        try:
            new = key_file.rotate(self.path)
        except (key_file.KeyFileError, OSError) as exc:
            raise VersionsRefused(str(exc)) from None
        self.ring.reload()
        return new

    def destroy(self, key_id: str) -> str:
        _check_destroyable(self.list(), key_id)
        try:
            key_file.destroy(self.path, key_id)
        except (key_file.KeyFileError, OSError) as exc:
            raise VersionsRefused(str(exc)) from None
        self.ring.reload()
        return f"removed the key material of {key_id} from {self.path}"


class StaticVersions:
    REFUSAL = (
        "the master key comes from DELTADB_MASTER_KEY, a single version that cannot be rotated or retired; "
        "use a key file (--key-file, or the secrets folder) or KMS for key versions"
    )

    def __init__(self, key_id: str) -> None:
        self.key_id = key_id

    def list(self) -> list[MasterVersion]:
        return [MasterVersion(self.key_id, None, ACTIVE)]

    def rotate(self, new_key_id: str | None = None) -> str:
        raise VersionsRefused(self.REFUSAL)

    def destroy(self, key_id: str) -> str:
        raise VersionsRefused(self.REFUSAL)


def _bare_id(arn: str) -> str:
    return arn.rsplit("/", 1)[-1] if arn.startswith("arn:") else arn


class KmsVersions:
    def __init__(self, ring: KmsKeyRing, store: KmsVersionStore) -> None:
        self.ring, self.store = ring, store
        self.kms: Any = ring.client

    def _call(self, what: str, **kw: Any) -> dict[str, Any]:
        try:
            out: dict[str, Any] = getattr(self.kms, what)(**kw)
            return out
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise VersionsRefused(f"KMS {what}: {err.get('Code')}: {err.get('Message', '')}") from None
        except BotoCoreError as exc:
            raise VersionsRefused(f"KMS {what}: {exc}") from None

    def _doc(self) -> tuple[dict[str, Any], str | None]:
        doc, etag = self.store.read()
        if doc is not None:
            return doc, etag
        meta = self._call("describe_key", KeyId=self.ring.configured_key_id)["KeyMetadata"]
        created = meta.get("CreationDate")
        first = {"id": meta["Arn"], "created_at": rfc3339(created) if created else None, "state": ACTIVE}
        return {"version": 1, "current": meta["Arn"], "versions": [first]}, None

    def list(self) -> list[MasterVersion]:
        doc, _etag = self._doc()
        return [MasterVersion(v["id"], v.get("created_at"), v["state"], v.get("destroyed_at")) for v in doc["versions"]]

    def _write(self, doc: dict[str, Any], etag: str | None) -> None:
        try:
            self.store.write(doc, etag)
        except VersionMismatch:
            raise VersionsRefused("the master key record changed meanwhile (another rotate?); run it again") from None

    def rotate(self, new_key_id: str | None = None) -> str:
        doc, etag = self._doc()
        if new_key_id is not None:
            meta = self._call("describe_key", KeyId=new_key_id)["KeyMetadata"]
            if meta.get("KeyState") != "Enabled" or meta.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
                raise VersionsRefused(f"KMS key {meta['Arn']} is not an enabled symmetric encryption key")
        else:
            meta = self._call(
                "create_key", Description="DeltaDatabase master key", KeyUsage="ENCRYPT_DECRYPT",
                KeySpec="SYMMETRIC_DEFAULT",
            )["KeyMetadata"]  # fmt: skip
        arn = str(meta["Arn"])
        known = {v["id"]: v for v in doc["versions"]}
        if arn == doc["current"]:
            raise VersionsRefused(f"{arn} already is the current master key version")
        if known.get(arn, {}).get("state") == DESTROYED:
            raise VersionsRefused(f"{arn} has been retired and cannot come back")
        for v in doc["versions"]:
            if v["state"] == ACTIVE:
                v["state"] = ENABLED
        if arn in known:
            known[arn]["state"] = ACTIVE
        else:
            doc["versions"].append({"id": arn, "created_at": _now(), "state": ACTIVE})
        doc["current"] = arn
        self._write(doc, etag)
        return arn

    def destroy(self, key_id: str) -> str:
        _check_destroyable(self.list(), key_id)
        doc, etag = self._doc()
        self._call("disable_key", KeyId=_bare_id(key_id))
        out = self._call("schedule_key_deletion", KeyId=_bare_id(key_id), PendingWindowInDays=KMS_DELETION_DAYS)
        for v in doc["versions"]:
            if v["id"] == key_id:
                v["state"], v["destroyed_at"] = DESTROYED, _now()
        self._write(doc, etag)
        when = out.get("DeletionDate")
        return (
            f"disabled KMS key {key_id} and scheduled its deletion in {KMS_DELETION_DAYS} days"
            + (f" ({rfc3339(when)})" if when else "")
            + "; until then `aws kms cancel-key-deletion` could bring it back"
        )


def versions_for(ring: KeyRing, storage: Storage) -> MasterVersions:
    """The adapter that manages the versions of ``ring``."""
    if isinstance(ring, KmsKeyRing):
        return KmsVersions(ring, ring.versions or KmsVersionStore(storage))
    if isinstance(ring, LocalKeyRing) and ring.path is not None:
        return FileVersions(ring.path, ring)
    return StaticVersions(ring.active_key_id)
