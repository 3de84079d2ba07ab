"""The route side's stdlib SigV4 signer gives exactly botocore's SigV4Auth headers, and workers accept it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import botocore.auth
import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.invoke.sigv4 import verify
from chalicelib.sigv4_sign import SigningKey, sign

NOW = datetime(2026, 12, 1, 14, 30, 5, tzinfo=UTC)


def botocore_headers(
    monkeypatch: Any,
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    key: SigningKey,
    region: str,
    service: str = "lambda",
) -> dict[str, str]:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    signer = S3SigV4Auth if service == "s3" else SigV4Auth
    signer(Credentials(key.access_key, key.secret_key, key.session_token), service, region).add_auth(request)
    return dict(request.headers.items())


URLS = [
    "https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/deltadatabase-dev-EntityWorker/invocations",
    "https://lambda.eu-west-1.amazonaws.com/2015-03-31/functions/"
    "arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction%3Ameta/invocations",
    "http://127.0.0.1:9001/2015-03-31/functions/entity_worker/invocations",
    "https://lambda.us-east-1.amazonaws.com:443/2015-03-31/functions/f/invocations?Qualifier=live&a=1",
    "http://example.com/a/./b/../c//d/",
    "http://[::1]:9001/2015-03-31/functions/entity_worker/invocations",
]


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("token", [None, "IQoJb3JpZ2luX2VjE" + "x" * 300])
def test_the_same_headers_as_botocore(monkeypatch: Any, url: str, token: str | None) -> None:
    key = SigningKey("ASIAEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", token)
    headers = {"Content-Type": "application/json", "X-Amz-Invocation-Type": "RequestResponse", "User-Agent": "x y"}
    body = b'{"op": "entity.get", "db": "chat", "key": "k1"}'
    ours = sign("POST", url, headers, body, key, "eu-west-1", "lambda", NOW)
    assert ours == botocore_headers(monkeypatch, "POST", url, headers, body, key, "eu-west-1")


# Generated names (a function's, an object key's), bodies and header values: Lambda's rules and S3's.
GENERATED = {
    "lambda": ("https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/{}/invocations", "", "X-Custom"),
    "s3": ("http://127.0.0.1:9000/bucket/files/db/{}", "/~", "If-Match"),
}


@pytest.mark.parametrize("service", list(GENERATED))
@settings(max_examples=200, deadline=None)
@given(
    body=st.binary(max_size=300),
    name=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=40),
    value=st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=34),
)
def test_the_same_headers_as_botocore_for_any_body_name_and_header(
    service: str, body: bytes, name: str, value: str
) -> None:
    from urllib.parse import quote

    template, safe, header = GENERATED[service]
    url = template.format(quote(name, safe=safe))
    key = SigningKey("AKIDEXAMPLE", "secret", None)
    headers = {"Content-Type": "application/json", header: value, "Content-Length": str(len(body))}
    with pytest.MonkeyPatch.context() as mp:
        expected = botocore_headers(mp, "PUT", url, headers, body, key, "us-east-1", service)
    assert sign("PUT", url, headers, body, key, "us-east-1", service, NOW) == expected


S3_URLS = [
    "http://127.0.0.1:9000/deltadatabase/files/chat/k1",
    "https://deltadatabase.s3.eu-west-1.amazonaws.com/files/chat/k%20%C3%A9",
    "http://minio:9000/bucket/a/./b/../c//d",  # S3 signs the path as sent: no dot segments removed
    "http://[::1]:9000/bucket/_auth/keys/dk_1",
    "http://127.0.0.1:4566/bucket",
]


@pytest.mark.parametrize("url", S3_URLS)
@pytest.mark.parametrize("method", ["GET", "PUT", "HEAD", "DELETE"])
@pytest.mark.parametrize("token", [None, "IQoJb3JpZ2luX2VjE" + "x" * 300])
def test_s3_the_same_headers_as_botocore(monkeypatch: Any, url: str, method: str, token: str | None) -> None:
    key = SigningKey("ASIAEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", token)
    body = b"\x00envelope" * 40 if method == "PUT" else b""
    headers = {"If-None-Match": "*", "x-amz-meta-deltadb-write": "ab12", "Content-Length": str(len(body))}
    ours = sign(method, url, headers, body, key, "eu-west-1", "s3", NOW)
    assert ours == botocore_headers(monkeypatch, method, url, headers, body, key, "eu-west-1", "s3")


def test_a_local_worker_accepts_the_signature() -> None:
    url = "http://127.0.0.1:9001/2015-03-31/functions/entity_worker/invocations"
    body = b'{"op": "worker.info"}'
    signed = sign("POST", url, {"Content-Type": "application/json"}, body, SigningKey("deltadb-main", "s" * 40),
                  "us-east-1", "lambda", datetime.now(UTC))  # fmt: skip
    headers = {k.lower(): v for k, v in signed.items()} | {"host": "127.0.0.1:9001"}
    assert verify("POST", url, headers, body, "deltadb-main", "s" * 40) is None
    assert verify("POST", url, headers, body, "deltadb-main", "t" * 40) is not None


def test_the_key_never_shows_its_secret() -> None:
    key = SigningKey("AKID", "very-secret", "session-token")
    assert "very-secret" not in repr(key) and "session-token" not in repr(key)
