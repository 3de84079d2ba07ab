"""AWS Signature Version 4 for the route side's Lambda Invoke calls, with the standard library only.

Importing botocore (for its signer) or boto3 (for a Lambda client) is most of a deployed
routes function's cold start (bench/coldstart.py, "routes, Lambda shape"). The route
side only ever signs one kind of request, so it signs here. The rules are botocore's
``SigV4Auth`` (which local workers verify with, chalicelib/invoke/sigv4.py), and
tests/unit/test_sigv4_sign.py holds the output equal to it header for header.
"""

from __future__ import annotations

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
    and https).
    """
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    out = {name: value for name, value in headers.items() if name.lower() not in _REPLACED}
    out["X-Amz-Date"] = stamp
    if key.session_token:
        out["X-Amz-Security-Token"] = key.session_token
    parts = urlsplit(url)
    signed = {name.lower(): " ".join(value.split()) for name, value in out.items() if name.lower() not in _UNSIGNED}
    signed.setdefault("host", _host(parts.scheme, parts.hostname or "", parts.port))
    names = sorted(signed)
    canonical = "\n".join(
        [
            method.upper(),
            quote(_normalized_path(parts.path), safe="/~"),
            _canonical_query(parts.query),
            "".join(f"{name}:{signed[name]}\n" for name in names),
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{stamp[:8]}/{region}/{service}/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    signing_key = ("AWS4" + key.secret_key).encode()
    for part in (stamp[:8], region, service, "aws4_request"):
        signing_key = hmac.new(signing_key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
    out["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={key.access_key}/{scope}, SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return out


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
