"""Local KeyRing: 256-bit KEKs (master key versions) from an env var or a key file (mode 0600).

The key file's format is in chalicelib/crypto/key_file.py (version 2; version 1 is read
too). A keyring made from the file re-reads it when it changes: at most once a second
it compares the file's inode, size and mtime, so ``deltadb key rotate`` reaches every
running process within about a second, without a restart.

A key is wrapped with AES-256-GCM under the KEK: ``nonce(12) || ciphertext(32) || tag(16)``,
the AAD being the canonical JSON of the context, so a wrapped key moved to another
context does not unwrap.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from chalicelib.crypto import key_file
from chalicelib.crypto.key_file import key_id_for
from chalicelib.crypto.keyring import DataKey, KeyUnavailable
from chalicelib.files import create_exclusive
from chalicelib.timestamps import rfc3339

__all__ = ["RELOAD_INTERVAL", "LocalKeyRing", "key_id_for"]

RELOAD_INTERVAL = 1.0  # seconds between two stats of the key file


def _context_aad(context: Mapping[str, str]) -> bytes:
    return json.dumps(dict(context), sort_keys=True, separators=(",", ":")).encode()


def _stamp(path: Path) -> tuple[int, int, int]:
    st = os.stat(path)
    return st.st_ino, st.st_size, st.st_mtime_ns


class LocalKeyRing:
    def __init__(self, keys: Mapping[str, bytes], active: str, path: Path | None = None) -> None:
        self._state = self._build(keys, active)
        self._path = path
        self._stamp = _stamp(path) if path is not None else None
        self._next_check = time.monotonic() + RELOAD_INTERVAL
        self._lock = threading.Lock()

    @staticmethod
    def _build(keys: Mapping[str, bytes], active: str) -> tuple[dict[str, AESGCM], str]:
        if active not in keys:
            raise ValueError("the active key id is not among the keys")
        for kid, material in keys.items():
            if len(material) != 32:
                raise ValueError(f"key {kid} is not 32 bytes")
        return {kid: AESGCM(material) for kid, material in keys.items()}, active

    @classmethod
    def from_master_key(cls, material: bytes) -> LocalKeyRing:
        kid = key_id_for(material)
        return cls({kid: material}, kid)

    @classmethod
    def from_file(cls, path: Path) -> LocalKeyRing:
        active, keys = key_file.read(Path(path))
        return cls({k.id: k.material for k in keys if k.material is not None}, active, Path(path))

    @property
    def path(self) -> Path | None:
        return self._path

    def _current(self) -> tuple[dict[str, AESGCM], str]:
        """The keys, re-read first when the file changed (checked at most once a second)."""
        if self._path is not None and time.monotonic() >= self._next_check:
            with self._lock:
                if time.monotonic() >= self._next_check:
                    self._next_check = time.monotonic() + RELOAD_INTERVAL
                    self._reload()
        return self._state

    def reload(self) -> None:
        """Re-read the key file now (after this process changed it)."""
        with self._lock:
            self._reload()

    def _reload(self) -> None:
        assert self._path is not None
        try:
            stamp = _stamp(self._path)
            if stamp == self._stamp:
                return
            active, keys = key_file.read(self._path)
            self._state = self._build({k.id: k.material for k in keys if k.material is not None}, active)
            self._stamp = stamp
        except (OSError, ValueError):  # a broken file must not stop serving: keep the keys we have
            import logging

            logging.getLogger(__name__).exception("could not re-read the key file %s", self._path)

    @staticmethod
    def create_file(path: Path) -> bool:
        """Create a key file with one fresh KEK, mode 0600, unless one exists.

        Returns True when created; concurrent first starts agree on one file.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        material = os.urandom(32)
        first = key_file.FileKey(key_id_for(material), rfc3339(datetime.now(UTC)), key_file.ACTIVE, material)
        return create_exclusive(path, key_file.render(first.id, [first]))

    @property
    def active_key_id(self) -> str:
        return self._current()[1]

    def key_ids(self) -> frozenset[str]:
        return frozenset(self._current()[0])

    def wrap_data_key(self, plaintext: bytes, context: Mapping[str, str]) -> DataKey:
        aeads, active = self._current()
        nonce = os.urandom(12)
        wrapped = nonce + aeads[active].encrypt(nonce, plaintext, _context_aad(context))
        return DataKey(plaintext=plaintext, wrapped=wrapped, key_id=active)

    def generate_data_key(self, context: Mapping[str, str]) -> DataKey:
        return self.wrap_data_key(os.urandom(32), context)

    def decrypt_data_key(self, key_id: str, wrapped: bytes, context: Mapping[str, str]) -> bytes:
        aead = self._current()[0].get(key_id)
        if aead is None or len(wrapped) != 60:
            raise KeyUnavailable(f"unknown key id {key_id!r}")
        try:
            return aead.decrypt(wrapped[:12], wrapped[12:], _context_aad(context))
        except InvalidTag:
            raise KeyUnavailable("wrapped data key failed authentication") from None
