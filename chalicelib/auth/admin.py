"""The admin key: only its SHA-256 is kept, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac

from chalicelib.auth.digest import sha256_digest, sha256_hex


class AdminKey:
    def __init__(self, sha256: str) -> None:
        self._digest = bytes.fromhex(sha256)
        # Sessions issued with this key carry the fingerprint: changing the admin key
        # ends them. It is a hash of a hash, so it reveals nothing usable.
        self.fingerprint = hashlib.sha256(b"deltadb admin fp\x00" + self._digest).hexdigest()[:16]

    @classmethod
    def from_secret(cls, secret: str) -> AdminKey:
        return cls(sha256_hex(secret))

    def matches(self, presented: str) -> bool:
        return hmac.compare_digest(self._digest, sha256_digest(presented))
