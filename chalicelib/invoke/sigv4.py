"""Server-side check of AWS SigV4 signatures, for workers that speak the Lambda Invoke API.

The main worker calls workers through chalicelib/invoke/invoke_client.py, which signs every
request with SigV4. The worker recomputes the signature with the shared secret (botocore's own
signer, fed the request as received) and compares in constant time, so nothing else on
the network can drive a worker. Requests older or newer than five minutes are refused.
"""

from __future__ import annotations

import hmac
import re
from datetime import UTC, datetime

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[^,]+),\s*Signature=(?P<sig>[0-9a-f]{64})"
)
MAX_SKEW_SECONDS = 300


def verify(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    access_key: str,
    secret: str,
    now: datetime | None = None,
) -> str | None:
    """None when the request carries a valid signature by ``access_key``; else why not."""
    m = _AUTH.fullmatch(headers.get("authorization", "").strip())
    if m is None:
        return "missing or malformed SigV4 Authorization header"
    if not hmac.compare_digest(m["key"], access_key):
        return "unknown access key"
    stamp = headers.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "missing or malformed X-Amz-Date"
    if abs(((now or datetime.now(UTC)) - signed_at).total_seconds()) > MAX_SKEW_SECONDS:
        return "request signed too long ago (or in the future)"
    signed = m["signed"].split(";")
    if "host" not in signed or any(h not in headers for h in signed):
        return "signed headers missing"
    request = AWSRequest(method=method, url=url, data=body, headers={h: headers[h] for h in signed})
    request.context["timestamp"] = stamp
    signer = SigV4Auth(Credentials(access_key, secret), m["service"], m["region"])
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    if not hmac.compare_digest(expected, m["sig"]):
        return "signature does not match"
    return None
