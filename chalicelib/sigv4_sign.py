"""AWS Signature Version 4 with the standard library only: Lambda Invoke calls and S3 object calls.

Importing botocore (for its signer) or boto3 (for a Lambda client) is most of a deployed
routes function's cold start (bench/coldstart.py, "routes, Lambda shape"), and botocore's
generic request pipeline most of an S3 call's client-side cost (chalicelib/storage/s3_lean.py).
The rules are botocore's ``SigV4Auth`` (which local workers verify with,
chalicelib/invoke/sigv4.py) and, for ``service="s3"``, its ``S3SigV4Auth``;
tests/unit/test_sigv4_sign.py holds the output equal to both header for header.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlsplit

# Never signed (botocore.auth.SIGNED_HEADERS_BLACKLIST): hop-by-hop or added by proxies.
_UNSIGNED = frozenset(
    {"baggage", "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
     "traceparent", "tracestate", "trailer", "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id"}
)  # fmt: skip
_REPLACED = frozenset({"authorization", "x-amz-date", "x-amz-security-token"})
_REPLACED_S3 = _REPLACED | {"x-amz-content-sha256"}
_DEFAULT_PORTS = {"http": 80, "https": 443}
MAIN_ACCESS_KEY = "deltadb-main"  # the access key id the main worker signs its calls to local workers with


@dataclass(frozen=True)
class SigningKey:
    access_key: str
    secret_key: str = ""
    session_token: str | None = None

    def __repr__(self) -> str:  # never the secret or the token in a log line or a traceback
        return f"SigningKey(access_key={self.access_key!r})"


def sign(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    key: SigningKey,
    region: str,
    service: str,
    now: datetime,
) -> dict[str, str]:
    """``headers`` plus X-Amz-Date, X-Amz-Security-Token (with a session token) and Authorization.

    ``now``: a UTC time. The payload is always hashed (botocore's default for both http
    and https, and for S3 without a checksum header). For S3 the path is signed as sent
    (no dot-segment removal, no second encoding) and the hash goes in X-Amz-Content-SHA256.
    """
    payload = hashlib.sha256(body).hexdigest()
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    s3 = service == "s3"
    replaced = _REPLACED_S3 if s3 else _REPLACED
    out = {name: value for name, value in headers.items() if name.lower() not in replaced}
    out["X-Amz-Date"] = stamp
    if key.session_token:
        out["X-Amz-Security-Token"] = key.session_token
    if s3:
        out["X-Amz-Content-SHA256"] = payload
    parts = urlsplit(url)
    signed = {name.lower(): " ".join(value.split()) for name, value in out.items() if name.lower() not in _UNSIGNED}
    signed.setdefault("host", _host(parts.scheme, parts.hostname or "", parts.port))
    names = sorted(signed)
    canonical = "\n".join(
        [
            method.upper(),
            (parts.path or "/") if s3 else quote(_normalized_path(parts.path), safe="/~"),
            _canonical_query(parts.query),
            "".join(f"{name}:{signed[name]}\n" for name in names),
            ";".join(names),
            payload,
        ]
    )
    scope = f"{stamp[:8]}/{region}/{service}/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    signature = hmac.new(_signing_key(key.secret_key, stamp[:8], region, service), to_sign.encode(),
                         hashlib.sha256).hexdigest()  # fmt: skip
    out["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={key.access_key}/{scope}, SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return out


@functools.lru_cache(maxsize=32)
def _signing_key(secret_key: str, day: str, region: str, service: str) -> bytes:
    """The day's derived key (four HMACs): the same for every call of a day, so derived once."""
    derived = ("AWS4" + secret_key).encode()
    for part in (day, region, service, "aws4_request"):
        derived = hmac.new(derived, part.encode(), hashlib.sha256).digest()
    return derived


def _host(scheme: str, hostname: str, port: int | None) -> str:
    if ":" in hostname:  # IPv6: bracketed, as in the URL and the Host header
        hostname = f"[{hostname}]"
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        return f"{hostname}:{port}"
    return hostname


def _normalized_path(path: str) -> str:
    """RFC 3986 dot-segment removal, and no empty segments (botocore.utils.normalize_url_path)."""
    if not path:
        return "/"
    kept: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment and segment != ".":
            kept.append(segment)
    first = "/" if path.startswith("/") else ""
    last = "/" if path.endswith("/") and kept else ""
    return first + "/".join(kept) + last


def _canonical_query(query: str) -> str:
    pairs = sorted(pair.partition("=")[::2] for pair in query.split("&")) if query else []
    return "&".join(f"{name}={value}" for name, value in pairs)
