"""The lean S3 client against a real HTTP server that checks every signature with botocore's S3 signer.

Replies, errors and retries as boto3 gives them (the adapter's own behaviour on moto and
LocalStack is tests/integration/test_s3.py and test_s3_faults.py), and which client
``make_client`` picks for which settings.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import botocore.auth
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from chalicelib.sigv4_sign import SigningKey
from chalicelib.storage import s3_lean
from chalicelib.storage.s3_client import S3Options, make_client
from chalicelib.storage.s3_lean import LeanS3

KEY = SigningKey("AKIATESTKEY", "test-secret-0123456789", "session-token-abc")
XML_ERROR = b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>m</Message></Error>'


def botocore_signature(method: str, url: str, headers: dict[str, str], body: bytes) -> str:
    """The Authorization botocore's S3SigV4Auth gives the request as received, at its own X-Amz-Date."""
    stamp = headers["x-amz-date"]
    signed = headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    request = AWSRequest(method=method, url=url, data=body, headers={name: headers[name] for name in signed})
    auth = S3SigV4Auth(Credentials(KEY.access_key, KEY.secret_key, KEY.session_token), "s3", "eu-west-1")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(botocore.auth, "get_current_datetime", lambda: datetime.strptime(stamp, "%Y%m%dT%H%M%SZ"))
        auth.add_auth(request)
    return str(request.headers["Authorization"])


class FakeS3:
    """An S3 endpoint on 127.0.0.1 (HTTP/1.1, kept-alive connections) answering from a script."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, str], bytes]] = []
        self.seen: list[dict[str, Any]] = []
        self.close_after_reply = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                url = f"http://{headers['host']}{self.path}"
                good = botocore_signature(self.command, url, headers, body) == headers.get("authorization")
                fake.seen.append({"method": self.command, "path": self.path, "headers": headers, "body": body,
                                  "signature_ok": good})  # fmt: skip
                status, extra, answer = fake.script.pop(0) if fake.script else (200, {"ETag": '"e1"'}, b"")
                if not good:
                    status, extra, answer = 403, {}, XML_ERROR % b"SignatureDoesNotMatch"
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                if status != 304 and "Content-Length" not in extra:
                    self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                if self.command != "HEAD" and status != 304:
                    self.wfile.write(answer)
                if fake.close_after_reply:
                    self.close_connection = True

            do_GET = do_PUT = do_HEAD = do_DELETE = _serve

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def fake() -> Iterator[FakeS3]:
    server = FakeS3()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []
    monkeypatch.setattr(s3_lean.time, "sleep", waits.append)
    return waits


def lean(fake: FakeS3, attempts: int = 5) -> LeanS3:
    def no_boto3() -> Any:
        raise AssertionError("the lean client must not need boto3 for object calls")

    return LeanS3(fake.url, "bucket", KEY, "eu-west-1", virtual_host=False, max_attempts=attempts, read_timeout=5,
                  fallback=no_boto3)  # fmt: skip


def test_object_calls_are_signed_as_botocore_signs_them_and_answered_as_boto3_answers(fake: FakeS3) -> None:
    client = lean(fake)
    fake.script = [
        (200, {"ETag": '"e1"'}, b""),
        (200, {"ETag": '"e1"', "x-amz-meta-deltadb-write": "w1"}, b"payload"),
        (200, {"ETag": '"e1"', "Content-Length": "7", "X-Amz-Meta-DeltaDB-Write": "w1"}, b""),
        (204, {}, b""),
    ]
    put = client.put_object(Bucket="bucket", Key="files/db/k é", Body=b"payload", Metadata={"deltadb-write": "w1"},
                            IfNoneMatch="*")  # fmt: skip
    got = client.get_object(Bucket="bucket", Key="files/db/k é", IfNoneMatch='"e0"')
    head = client.head_object(Bucket="bucket", Key="files/db/k é")
    client.delete_object(Bucket="bucket", Key="files/db/k é", IfMatch='"e1"')
    assert put == {"ETag": '"e1"'}
    assert got["Body"].read() == b"payload" and got["ETag"] == '"e1"' and got["ContentLength"] == 7
    assert head["Metadata"] == {"deltadb-write": "w1"} and head["ContentLength"] == 7
    assert [s["signature_ok"] for s in fake.seen] == [True] * 4
    assert [(s["method"], s["path"]) for s in fake.seen] == [(m, "/bucket/files/db/k%20%C3%A9")
                                                             for m in ("PUT", "GET", "HEAD", "DELETE")]  # fmt: skip
    put_headers = fake.seen[0]["headers"]
    assert put_headers["if-none-match"] == "*" and put_headers["x-amz-meta-deltadb-write"] == "w1"
    assert put_headers["x-amz-security-token"] == KEY.session_token and "expect" not in put_headers
    assert fake.seen[0]["body"] == b"payload"
    assert fake.seen[1]["headers"]["if-none-match"] == '"e0"' and fake.seen[3]["headers"]["if-match"] == '"e1"'


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [(412, XML_ERROR % b"PreconditionFailed", "PreconditionFailed"), (404, XML_ERROR % b"NoSuchKey", "NoSuchKey"),
     (304, b"", "304"), (404, b"", "404"), (501, XML_ERROR % b"NotImplemented", "NotImplemented"),
     (409, XML_ERROR % b"ConditionalRequestConflict", "ConditionalRequestConflict")],
)  # fmt: skip
def test_error_answers_are_client_errors_with_botocores_code(
    fake: FakeS3, slept: list[float], status: int, body: bytes, code: str
) -> None:
    fake.script = [(status, {}, body)]
    with pytest.raises(ClientError) as caught:
        lean(fake).get_object(Bucket="bucket", Key="k")
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert len(fake.seen) == 1 and slept == []  # not retried


@pytest.mark.parametrize(
    ("status", "body"),
    [(503, XML_ERROR % b"SlowDown"), (500, XML_ERROR % b"InternalError"), (400, XML_ERROR % b"RequestTimeout"),
     (502, b"bad gateway")],
)  # fmt: skip
def test_transient_answers_are_retried_with_botocores_backoff(
    fake: FakeS3, slept: list[float], status: int, body: bytes
) -> None:
    fake.script = [(status, {}, body), (status, {}, body), (200, {"ETag": '"e2"'}, b"")]
    assert lean(fake).put_object(Bucket="bucket", Key="k", Body=b"x")["ETag"] == '"e2"'
    assert len(fake.seen) == 3 and all(s["body"] == b"x" and s["signature_ok"] for s in fake.seen)
    assert len(slept) == 2 and 0 <= slept[0] <= 1 and 0 <= slept[1] <= 2  # random() * min(2 ** (n - 1), 20)


def test_the_last_attempt_answers(fake: FakeS3, slept: list[float]) -> None:
    fake.script = [(503, {}, XML_ERROR % b"SlowDown")] * 3
    with pytest.raises(ClientError) as caught:
        lean(fake, attempts=3).get_object(Bucket="bucket", Key="k")
    assert caught.value.response["Error"]["Code"] == "SlowDown" and len(fake.seen) == 3 and len(slept) == 2


def test_an_unreachable_endpoint_is_an_oserror_after_the_attempts(slept: list[float]) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    client = LeanS3(f"http://127.0.0.1:{port}", "bucket", KEY, "eu-west-1", virtual_host=False, max_attempts=2,
                    read_timeout=1, fallback=lambda: None)  # fmt: skip
    with pytest.raises(OSError):
        client.get_object(Bucket="bucket", Key="k")
    assert len(slept) == 1


def test_kept_alive_connections_are_reused_and_a_closed_one_is_replaced(fake: FakeS3, slept: list[float]) -> None:
    client = lean(fake)
    for _ in range(3):
        client.put_object(Bucket="bucket", Key="k", Body=b"x")
    ports = {s["headers"].get("host") for s in fake.seen}
    assert len(ports) == 1 and len(client._open) == 1  # one connection for the three calls
    fake.close_after_reply = True  # the server now closes after each answer (as an idle timeout would)
    client.put_object(Bucket="bucket", Key="k", Body=b"x")
    client.put_object(Bucket="bucket", Key="k", Body=b"x")
    assert len(fake.seen) == 5 and slept == []  # no failed attempt: the closed connection was not reused


def test_other_calls_go_to_the_boto3_client_built_on_first_use(fake: FakeS3) -> None:
    built: list[int] = []

    class Boto3Like:
        def list_objects_v2(self, **kwargs: Any) -> dict[str, Any]:
            return {"Contents": [], **kwargs}

    def build() -> Boto3Like:
        built.append(1)
        return Boto3Like()

    client = LeanS3(fake.url, "bucket", KEY, "eu-west-1", virtual_host=False, max_attempts=1, read_timeout=1,
                    fallback=build)  # fmt: skip
    client.put_object(Bucket="bucket", Key="k", Body=b"x")
    assert built == []
    assert client.list_objects_v2(Bucket="bucket")["Bucket"] == "bucket"
    assert client.list_objects_v2(Bucket="bucket")["Contents"] == []
    assert built == [1]


@pytest.mark.parametrize(
    ("status", "body"), [(301, XML_ERROR % b"PermanentRedirect"), (400, XML_ERROR % b"AuthorizationHeaderMalformed")]
)
def test_a_bucket_in_another_region_is_left_to_boto3_which_follows_it(fake: FakeS3, status: int, body: bytes) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    class Boto3Like:
        def get_object(self, **kwargs: Any) -> dict[str, Any]:
            calls.append(("get_object", kwargs))
            return {"ETag": '"b"'}

        def put_object(self, **kwargs: Any) -> dict[str, Any]:
            calls.append(("put_object", kwargs))
            return {"ETag": '"b"'}

    client = LeanS3(fake.url, "bucket", KEY, "eu-west-1", virtual_host=False, max_attempts=3, read_timeout=1,
                    fallback=Boto3Like)  # fmt: skip
    fake.script = [(status, {"x-amz-bucket-region": "ap-south-1"}, body)]
    assert client.get_object(Bucket="bucket", Key="k") == {"ETag": '"b"'}
    assert client.put_object(Bucket="bucket", Key="k", Body=b"x") == {"ETag": '"b"'}
    assert calls == [("get_object", {"Bucket": "bucket", "Key": "k"}),
                     ("put_object", {"Bucket": "bucket", "Key": "k", "Body": b"x"})]  # fmt: skip
    assert len(fake.seen) == 1  # the first answer only: from then on boto3 serves every call


def test_a_virtual_host_client_puts_the_bucket_in_the_host_name() -> None:
    client = LeanS3("https://s3.eu-west-1.amazonaws.com", "my-bucket", KEY, "eu-west-1", virtual_host=True,
                    max_attempts=1, read_timeout=1, fallback=lambda: None)  # fmt: skip
    assert client._host == "my-bucket.s3.eu-west-1.amazonaws.com" and client._base == ""
    assert client._origin == "https://my-bucket.s3.eu-west-1.amazonaws.com"


# -- which client make_client picks ------------------------------------------------------
ENV_KEYS = {"AWS_ACCESS_KEY_ID": "AKIA1", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t"}


@pytest.mark.parametrize(
    ("options", "environ", "expected"),
    [
        (S3Options(endpoint="127.0.0.1:9000", access_key="a", secret_key="b"), {}, "lean"),
        (S3Options(endpoint="127.0.0.1:9000", access_key="a", secret_key="b"),
         {"AWS_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt"}, "lean"),
        (S3Options(endpoint="127.0.0.1:9000"), ENV_KEYS, "lean"),
        (S3Options(endpoint="127.0.0.1:9000", use_ssl=True, access_key="a", secret_key="b"),
         {"AWS_CA_BUNDLE": "/nonexistent/ca.pem"}, "boto3"),  # boto3 then reports the missing bundle
        (S3Options(endpoint="127.0.0.1:9000", access_key="a", secret_key="b"), {"HTTP_PROXY": "http://p:3128"},
         "boto3"),
        (S3Options(endpoint="127.0.0.1:9000", access_key="a", secret_key="b", retry_mode="adaptive"), {}, "boto3"),
        (S3Options(endpoint="127.0.0.1:9000"), {}, "boto3"),  # no keys: a profile or a role, found by boto3
        (S3Options(bucket="data-bucket"), {**ENV_KEYS, "AWS_REGION": "eu-central-1"}, "lean"),
        (S3Options(bucket="data-bucket", region="cn-north-1"), ENV_KEYS, "lean"),
        (S3Options(bucket="data-bucket"), ENV_KEYS, "boto3"),  # no region known
        (S3Options(bucket="data.bucket"), {**ENV_KEYS, "AWS_REGION": "eu-central-1"}, "boto3"),
        (S3Options(bucket="data-bucket"), {**ENV_KEYS, "AWS_REGION": "us-isob-east-1"}, "boto3"),
        (S3Options(bucket="data-bucket"), {**ENV_KEYS, "AWS_REGION": "eu-west-1", "AWS_USE_FIPS_ENDPOINT": "true"},
         "boto3"),
        (S3Options(bucket="data-bucket"), {**ENV_KEYS, "AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL_S3": "http://x"},
         "boto3"),
    ],
)  # fmt: skip
def test_the_lean_client_only_where_it_knows_the_endpoint_and_the_keys(
    options: S3Options, environ: dict[str, str], expected: str
) -> None:
    client = make_client(options, environ)
    assert ("lean" if isinstance(client, LeanS3) else "boto3") == expected
    if isinstance(client, LeanS3) and options.endpoint is None:
        region = options.region or environ["AWS_REGION"]
        suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
        assert client._origin == f"https://{options.bucket}.s3.{region}.{suffix}"
