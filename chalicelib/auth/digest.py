"""SHA-256 of a presented secret (admin key, ``dk_`` secret).

``surrogatepass``: a header may carry lone surrogates (from invalid UTF-8); they must
hash to something, never raise, and never equal a valid key's digest.
"""

from __future__ import annotations

import hashlib


def sha256_digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


def sha256_hex(secret: str) -> str:
    return sha256_digest(secret).hex()
