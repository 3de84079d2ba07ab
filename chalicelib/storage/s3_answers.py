"""S3's HTTP answers as boto3 gives them to chalicelib/storage/s3.py: reply dicts, ClientError, retries.

The rules are botocore's (botocore/parsers.py for replies and error codes,
botocore/retries/standard.py for what is retried and how long to wait), so the S3
adapter behaves the same whichever client (s3_lean.LeanS3 or boto3's) it is given.
"""

from __future__ import annotations

import http.client
import random
import re
from typing import Any

from botocore.exceptions import ClientError

META = "x-amz-meta-"  # user metadata headers
_CODE = re.compile(rb"<Code>([^<]{1,128})</Code>")
MAX_BACKOFF = 20.0  # seconds

# botocore.retries.standard: transient statuses and codes (a 50 ms backoff scale) and
# throttling codes (a 1 s scale); 429 counts as throttling here too.
_TRANSIENT_STATUS = frozenset({500, 502, 503, 504})
_TRANSIENT_CODES = frozenset({"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"})
_THROTTLING_CODES = frozenset(
    {"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
     "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
     "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown",
     "PriorRequestNotComplete", "EC2ThrottledException"}
)  # fmt: skip
_REDIRECT_STATUS = frozenset({301, 302, 307})
_WRONG_REGION = frozenset({"PermanentRedirect", "TemporaryRedirect", "AuthorizationHeaderMalformed"})
_RETRY_AFTER_MAX_ADDITIONAL = 5.0  # seconds (botocore's)


def described(reply: http.client.HTTPResponse, read: int | None) -> dict[str, Any]:
    """ETag, ContentLength and Metadata, as boto3's reply dict has them (metadata names as the server sent them)."""
    length = reply.getheader("Content-Length")
    return {
        "ETag": reply.getheader("ETag"),
        "ContentLength": int(length) if length is not None and length.isascii() and length.isdigit() else read,
        "Metadata": {name[len(META) :]: value for name, value in reply.getheaders() if name.lower().startswith(META)},
    }


def error_code(status: int, body: bytes) -> str:
    """The XML error's ``Code``, or the status for a bodiless answer (HEAD's 404, a 304), as botocore names it."""
    found = _CODE.search(body) if body else None
    return found.group(1).decode("utf-8", "replace") if found else str(status)


def client_error(op: str, status: int, code: str, reply: http.client.HTTPResponse) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": reply.reason or ""},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {k.lower(): v for k, v in reply.getheaders()}},
    }
    return ClientError(response, op)


def elsewhere(status: int, code: str, reply: http.client.HTTPResponse, region: str) -> bool:
    """Whether S3 answered that the bucket is in another region (botocore's redirector follows these)."""
    if status in _REDIRECT_STATUS or code in _WRONG_REGION:
        return True
    bucket_region = reply.getheader("x-amz-bucket-region")
    return status == 400 and bucket_region is not None and bucket_region != region  # a HEAD's bodiless 400


def retry_scale(status: int, code: str) -> float | None:
    """The backoff scale in seconds when the answer is worth another attempt, else None."""
    if code in _THROTTLING_CODES or status == 429:
        return 1.0
    if status in _TRANSIENT_STATUS or code in _TRANSIENT_CODES:
        return 0.05
    return None


def backoff(scale: float, attempt: int, retry_after_ms: str | None = None) -> float:
    """Seconds before attempt ``attempt + 1``: ``random() * min(scale * 2 ** (attempt - 1), 20)``,
    raised to ``x-amz-retry-after`` (milliseconds) but by at most 5 s."""
    delay = random.random() * min(scale * 2.0 ** (attempt - 1), MAX_BACKOFF)
    if retry_after_ms is not None and retry_after_ms.isascii() and retry_after_ms.isdigit():  # not "²"
        delay = max(delay, min(int(retry_after_ms) / 1000.0, delay + _RETRY_AFTER_MAX_ADDITIONAL))
    return delay
