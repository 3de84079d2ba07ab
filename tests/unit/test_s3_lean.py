"""The lean S3 client against a real HTTP server that checks every signature with botocore's S3 signer.

Replies, errors and retries as boto3 gives them (the adapter's own behaviour on moto and
LocalStack is tests/integration/test_s3.py and test_s3_faults.py), and which client
``make_client`` picks for which settings.
"""

from __future__ import annotations

import functools
import http.client
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import botocore.auth
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib import http_pool
from chalicelib.sigv4_sign import SigningKey
from chalicelib.storage import s3_answers, s3_lean
from chalicelib.storage.s3_client import S3Options, make_client
from chalicelib.storage.s3_lean import LeanS3

KEY = SigningKey("AKIATESTKEY", "test-secret-0123456789", "session-token-abc")
XML_ERROR = b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>m</Message></Error>'


def botocore_signature(method: str, url: str, headers: dict[str, str], body: bytes) -> str:
    """The Authorization botocore's S3SigV4Auth gives the request as received, at its own X-Amz-Date."""
    stamp = headers["x-amz-date"]
    signed = headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    request = AWSRequest(method=method, url=url, data=body, headers={name: headers[name] for name in signed})
    token = headers.get("x-amz-security-token")  # KEY's when sent; the test's keys from options have none
    assert token in (None, KEY.session_token)
    auth = S3SigV4Auth(Credentials(KEY.access_key, KEY.secret_key, token), "s3", "eu-west-1")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(botocore.auth, "get_current_datetime", lambda: datetime.strptime(stamp, "%Y%m%dT%H%M%SZ"))
        auth.add_auth(request)
    return str(request.headers["Authorization"])


class FakeS3:
    """An S3 endpoint on 127.0.0.1 (HTTP/1.1, kept-alive connections) answering from a script."""

    def __init__(self) -> None:
        self.script: list[Any] = []  # (status, headers, body), or a function of the requests seen giving one
        self.delay = 0.0  # seconds before each answer
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
                entry = fake.script.pop(0) if fake.script else (200, {"ETag": '"e1"'}, b"")
                status, extra, answer = entry(fake.seen) if callable(entry) else entry
                time.sleep(fake.delay)
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

        class Server(ThreadingHTTPServer):
            def process_request(self, request: Any, client_address: Any) -> None:
                fake.connections += 1
                super().process_request(request, client_address)

        self.connections = 0  # TCP connections accepted
        self.server = Server(("127.0.0.1", 0), Handler)
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
    """The backoff waits, not waited; with random() at its largest value, so each is the formula's bound."""
    waits: list[float] = []
    monkeypatch.setattr(s3_lean, "time", SimpleNamespace(sleep=waits.append))
    monkeypatch.setattr(s3_answers.random, "random", lambda: 1.0)
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
    assert head["Metadata"] == {"DeltaDB-Write": "w1"} and head["ContentLength"] == 7  # names as sent (botocore)
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
    ("status", "body", "scale"),
    [(503, XML_ERROR % b"SlowDown", 1.0), (429, b"", 1.0), (500, XML_ERROR % b"InternalError", 0.05),
     (400, XML_ERROR % b"RequestTimeout", 0.05), (502, b"bad gateway", 0.05)],
)  # fmt: skip
def test_transient_answers_are_retried_with_botocores_backoff(
    fake: FakeS3, slept: list[float], status: int, body: bytes, scale: float
) -> None:
    """botocore's standard mode: random() * min(scale * 2 ** (attempt - 1), 20) s; scale 1 s throttled, else 50 ms."""
    fake.script = [(status, {}, body), (status, {}, body), (200, {"ETag": '"e2"'}, b"")]
    assert lean(fake).put_object(Bucket="bucket", Key="k", Body=b"x")["ETag"] == '"e2"'
    assert len(fake.seen) == 3 and all(s["body"] == b"x" and s["signature_ok"] for s in fake.seen)
    assert slept == [scale, scale * 2]


def test_retry_after_raises_the_wait_by_at_most_five_seconds(fake: FakeS3, slept: list[float]) -> None:
    fake.script = [(503, {"x-amz-retry-after": "3000"}, XML_ERROR % b"SlowDown"),
                   (503, {"x-amz-retry-after": "60000"}, XML_ERROR % b"SlowDown")]  # fmt: skip
    lean(fake).get_object(Bucket="bucket", Key="k")
    assert slept == [3.0, 2.0 + 5.0]


def test_a_retry_after_that_is_no_number_is_ignored(fake: FakeS3, slept: list[float]) -> None:
    fake.script = [(503, {"x-amz-retry-after": "\u00b2"}, XML_ERROR % b"SlowDown")]  # "²": isdigit(), not int()
    lean(fake).get_object(Bucket="bucket", Key="k")
    assert slept == [1.0]


def test_a_connection_in_use_when_the_client_is_closed_is_not_kept(fake: FakeS3) -> None:
    client = lean(fake)
    fake.delay = 0.5
    call = threading.Thread(target=client.put_object, kwargs={"Bucket": "bucket", "Key": "k", "Body": b"x"})
    call.start()
    deadline = time.monotonic() + 10
    while not fake.connections:  # the request is out
        assert time.monotonic() < deadline
        time.sleep(0.01)
    client.close()
    call.join()
    assert client._pool._idle == [] and len(fake.seen) == 1


def test_the_adapter_knows_its_own_write_whatever_case_the_server_gives_metadata_names(fake: FakeS3) -> None:
    """A retried conditional PUT whose first attempt was applied: 412, then the HEAD shows our write id."""
    from chalicelib.storage.s3 import S3Options, S3Storage

    def head(seen: list[dict[str, Any]]) -> tuple[int, dict[str, str], bytes]:
        write_id = seen[0]["headers"]["x-amz-meta-deltadb-write"]
        return 200, {"ETag": '"mine"', "Content-Length": "1", "X-Amz-Meta-DeltaDB-Write": write_id}, b""

    fake.script = [(412, {}, XML_ERROR % b"PreconditionFailed"), head]
    store = S3Storage(lean(fake), S3Options(bucket="bucket"))
    assert store.put("k", b"x", if_none_match=True) == '"mine"'


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


def wait_until_closed_by_server(client: LeanS3) -> None:
    deadline = time.monotonic() + 10
    while all(http_pool._idle_and_open(conn) for conn in client._pool._idle):
        assert time.monotonic() < deadline, "the server did not close the connection"
        time.sleep(0.01)


def test_kept_alive_connections_are_reused(fake: FakeS3, slept: list[float]) -> None:
    client = lean(fake)
    for _ in range(3):
        client.put_object(Bucket="bucket", Key="k", Body=b"x")
    assert fake.connections == 1 and len(client._pool._idle) == 1


def test_a_connection_the_server_closed_while_idle_is_not_used(
    fake: FakeS3, slept: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = lean(fake)
    fake.close_after_reply = True  # as an idle timeout would, but before the next request
    client.put_object(Bucket="bucket", Key="k", Body=b"x")
    wait_until_closed_by_server(client)
    written: list[str] = []
    request = http.client.HTTPConnection.request

    def spy(conn: Any, method: str, path: str, **kw: Any) -> None:
        written.append(path)
        request(conn, method, path, **kw)

    monkeypatch.setattr(http.client.HTTPConnection, "request", spy)
    client.put_object(Bucket="bucket", Key="k", Body=b"x")
    assert written == ["/bucket/k"] and fake.connections == 2 and slept == []  # nothing written to the closed one


def test_a_connection_closed_as_the_request_went_out_is_no_failed_attempt(
    fake: FakeS3, slept: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = lean(fake)
    fake.close_after_reply = True
    client.put_object(Bucket="bucket", Key="k", Body=b"x")
    wait_until_closed_by_server(client)
    monkeypatch.setattr(http_pool, "_idle_and_open", lambda _conn: True)  # the close is not seen in time
    sent: list[int] = []
    client.watchers.append(lambda ex: sent.append(ex.status))
    assert client.put_object(Bucket="bucket", Key="k2", Body=b"y")["ETag"] == '"e1"'
    assert sent == [200] and slept == [] and [s["path"] for s in fake.seen][-1] == "/bucket/k2"


def test_idle_connections_are_shared_by_threads_and_bounded(fake: FakeS3) -> None:
    client = LeanS3(fake.url, "bucket", KEY, "eu-west-1", virtual_host=False, max_attempts=1, read_timeout=5,
                    max_connections=2, fallback=lambda: None)  # fmt: skip
    for _round in range(5):  # short-lived threads, as a walk's page pool
        threads = [threading.Thread(target=client.put_object, kwargs={"Bucket": "bucket", "Key": "k", "Body": b"x"})
                   for _ in range(4)]  # fmt: skip
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(fake.seen) == 20 and len(client._pool._idle) <= 2
    assert fake.connections < 20  # later threads took the idle ones


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


def self_signed(tmp: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    import ipaddress
    from datetime import UTC, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test s3")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = tmp / "cert.pem", tmp / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_file, key_file


def test_https_with_the_ca_bundle_of_aws_ca_bundle_and_not_without_it(fake: FakeS3, tmp_path: Path) -> None:
    import ssl

    cert, key = self_signed(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    fake.server.socket = tls.wrap_socket(fake.server.socket, server_side=True)
    url = fake.url.replace("http://", "https://")
    options = S3Options(bucket="bucket", endpoint=url, access_key=KEY.access_key, secret_key=KEY.secret_key,
                        region="eu-west-1", max_attempts=1)  # fmt: skip
    no_config = {"AWS_CONFIG_FILE": "/nonexistent/aws-config"}  # not this machine's
    trusted = make_client(options, {**no_config, "AWS_CA_BUNDLE": str(cert)})
    assert isinstance(trusted, LeanS3)
    assert trusted.put_object(Bucket="bucket", Key="k", Body=b"x")["ETag"] == '"e1"'
    assert fake.seen[-1]["signature_ok"] and fake.seen[-1]["body"] == b"x"
    untrusted = make_client(options, no_config)  # boto3's CA bundle does not know this certificate
    assert isinstance(untrusted, LeanS3)
    with pytest.raises(ssl.SSLCertVerificationError):
        untrusted.put_object(Bucket="bucket", Key="k", Body=b"x")


def test_an_ipv6_endpoint_without_a_port_keeps_its_host() -> None:
    client = LeanS3("http://[::1]", "bucket", KEY, "eu-west-1", virtual_host=False, max_attempts=1, read_timeout=1,
                    fallback=lambda: None)  # fmt: skip
    assert (client._pool._host, client._pool._port, client._origin) == ("::1", 80, "http://[::1]")


def test_a_virtual_host_client_puts_the_bucket_in_the_host_name() -> None:
    client = LeanS3("https://s3.eu-west-1.amazonaws.com", "my-bucket", KEY, "eu-west-1", virtual_host=True,
                    max_attempts=1, read_timeout=1, fallback=lambda: None)  # fmt: skip
    assert client._pool._host == "my-bucket.s3.eu-west-1.amazonaws.com" and client._base == ""
    assert client._origin == "https://my-bucket.s3.eu-west-1.amazonaws.com"


# -- which client make_client picks ------------------------------------------------------
ENV_KEYS = {"AWS_ACCESS_KEY_ID": "AKIA1", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t",
            "AWS_CONFIG_FILE": "/nonexistent/aws-config"}  # fmt: skip
AWS = {**ENV_KEYS, "AWS_DEFAULT_REGION": "eu-central-1"}


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
        (S3Options(bucket="data-bucket"), AWS, "lean"),
        (S3Options(bucket="data-bucket"), {**ENV_KEYS, "AWS_REGION": "eu-central-1"}, "boto3"),  # boto3 reads
        (S3Options(bucket="data-bucket"), {**AWS, "AWS_PROFILE": "dev"}, "boto3"),  # AWS_DEFAULT_REGION only
        (S3Options(bucket="data-bucket"), {**AWS, "AWS_CONFIG_FILE": __file__}, "boto3"),  # a config file exists
        (S3Options(endpoint="127.0.0.1:9000"), {**ENV_KEYS, "AWS_CONFIG_FILE": __file__}, "lean"),  # plain http
        (S3Options(endpoint="https://minio:9000"), {**ENV_KEYS, "AWS_CONFIG_FILE": __file__}, "boto3"),
        (S3Options(bucket="data--usw2-az1--x-s3"), AWS, "boto3"),  # a directory bucket
        (S3Options(bucket="data-bucket", max_attempts=3), {**AWS, "HTTP_PROXY": "http://p:3128"}, "lean"),
        (S3Options(bucket="data-bucket", region="cn-north-1"), ENV_KEYS, "lean"),
        (S3Options(bucket="data-bucket"), ENV_KEYS, "boto3"),  # no region known
        (S3Options(bucket="data.bucket"), AWS, "boto3"),
        (S3Options(bucket="data-bucket"), {**ENV_KEYS, "AWS_DEFAULT_REGION": "us-isob-east-1"}, "boto3"),
        (S3Options(bucket="data-bucket"), {**AWS, "AWS_USE_FIPS_ENDPOINT": "true"}, "boto3"),
        (S3Options(bucket="data-bucket"), {**AWS, "HTTPS_PROXY": "http://p:3128"}, "boto3"),
        (S3Options(bucket="data-bucket"), {**AWS, "AWS_ENDPOINT_URL_S3": "http://x"}, "boto3"),
    ],
)  # fmt: skip
def test_the_lean_client_only_where_it_knows_the_endpoint_and_the_keys(
    options: S3Options, environ: dict[str, str], expected: str
) -> None:
    client = make_client(options, {"AWS_CONFIG_FILE": "/nonexistent/aws-config", **environ})  # not this machine's
    assert ("lean" if isinstance(client, LeanS3) else "boto3") == expected
    if isinstance(client, LeanS3) and options.endpoint is None:
        region = options.region or environ["AWS_DEFAULT_REGION"]
        suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
        assert client._origin == f"https://{options.bucket}.s3.{region}.{suffix}"


class _Captured(Exception):
    pass


@functools.cache
def boto3_paths() -> tuple[Any, list[str]]:
    """A path-style boto3 client (as for custom endpoints) that records each request's path and sends nothing."""
    import boto3
    from botocore.config import Config

    paths: list[str] = []

    def capture(request: Any, **_: Any) -> None:
        paths.append(urlsplit(request.url).path)
        raise _Captured()

    boto = boto3.session.Session().client("s3", endpoint_url="http://127.0.0.1:9", region_name="us-east-1",
                                          aws_access_key_id="a", aws_secret_access_key="b",
                                          config=Config(s3={"addressing_style": "path"}))  # fmt: skip
    boto.meta.events.register("before-send.s3", capture)
    return boto, paths


@settings(max_examples=100, deadline=None)
@given(key=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=60))
def test_keys_go_on_the_wire_as_boto3_sends_them(key: str) -> None:
    """The same request path as botocore's serializer makes for the key."""
    boto, paths = boto3_paths()
    paths.clear()
    with pytest.raises(_Captured):
        boto.get_object(Bucket="bucket", Key=key)

    class Stop(Exception):
        pass

    client = LeanS3("http://127.0.0.1:9", "bucket", KEY, "us-east-1", virtual_host=False, max_attempts=1,
                    read_timeout=1, fallback=lambda: None)  # fmt: skip

    def send(method: str, path: str, body: bytes, headers: dict[str, str]) -> Any:
        paths.append(path)
        raise Stop()

    client._send = send  # type: ignore[method-assign]
    with pytest.raises(Stop):
        client.get_object(Bucket="bucket", Key=key)
    assert len(paths) == 2 and paths[0] == paths[1]


def test_the_default_ca_bundle_is_the_one_boto3_verifies_with() -> None:
    from botocore.httpsession import get_cert_path

    from chalicelib.storage.s3_lean import _boto3_ca_bundle

    assert _boto3_ca_bundle() == get_cert_path(True)
