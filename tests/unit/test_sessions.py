"""Session tokens: pinned algorithm, required claims, expiry (also for cached tokens)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from chalicelib.auth.sessions import SessionClaims, SessionTokens
from chalicelib.errors import Unauthorized

SECRET = b"s" * 32
CLAIMS = SessionClaims("c", frozenset({"read"}), "0123456789abcdef", None, False)


def test_roundtrip_and_cache_hit() -> None:
    st = SessionTokens(SECRET, 3600)
    token, exp = st.issue(CLAIMS, datetime.now(UTC))
    assert st.verify(token) == CLAIMS
    assert st.verify(token) == CLAIMS  # cached
    assert exp > datetime.now(UTC)


def test_short_secret_refused() -> None:
    with pytest.raises(ValueError):
        SessionTokens(b"short", 60)


def test_not_after_caps_expiry() -> None:
    st = SessionTokens(SECRET, 3600)
    now = datetime.now(UTC)
    _, exp = st.issue(CLAIMS, now, not_after=now + timedelta(seconds=60))
    assert exp <= now + timedelta(seconds=60)


def test_cached_token_still_expires() -> None:
    st = SessionTokens(SECRET, 1)
    token, _ = st.issue(CLAIMS, datetime.now(UTC))
    assert st.verify(token) == CLAIMS
    time.sleep(1.1)
    with pytest.raises(Unauthorized):
        st.verify(token)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize(
    "forge",
    [
        lambda p: jwt.encode(p, b"k" * 32, algorithm="HS256"),  # other key
        lambda p: jwt.encode(p, SECRET, algorithm="HS512"),  # other algorithm
        lambda p: jwt.encode({k: v for k, v in p.items() if k != "exp"}, SECRET, algorithm="HS256"),
        lambda p: jwt.encode({**p, "aud": "other"}, SECRET, algorithm="HS256"),
        lambda p: jwt.encode({**p, "perms": "admin"}, SECRET, algorithm="HS256"),
        lambda p: jwt.encode(p, SECRET, algorithm="HS256")[:-2] + "xx",  # bad signature
    ],
)
def test_forged_or_malformed_tokens_are_refused(forge: object) -> None:
    now = int(time.time())
    payload = {"iss": "deltadb", "aud": "deltadb-api", "sub": "c", "iat": now, "exp": now + 60, "perms": ["read"]}
    st = SessionTokens(SECRET, 60)
    with pytest.raises(Unauthorized):
        st.verify(forge(payload))  # type: ignore[operator]
