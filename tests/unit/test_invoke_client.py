"""The lean Invoke API client against a real HTTP server: signing, retries, errors, and which transport is chosen."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chalicelib.invoke.base import InvokeFailed
from chalicelib.invoke.invoke_client import InvokeClient, InvokeTimedOut
from chalicelib.invoke.lambda_ import Boto3Lambda, LambdaInvoker, aws_endpoint, transport
from chalicelib.invoke.sigv4 import verify
from chalicelib.sigv4_sign import SigningKey

KEY = SigningKey("ASIATESTKEY", "test-secret-0123456789", "session-token-abc")


class FakeLambda:
    """An Invoke API endpoint on 127.0.0.1 answering from a script of (status, headers, body)."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, str], bytes]] = []
        self.delay = 0.0  # seconds before each answer
        self.seen: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                url = f"http://{headers['host']}{self.path}"
                signature = verify("POST", url, headers, body, KEY.access_key, KEY.secret_key)
                fake.seen.append({"path": self.path, "headers": headers, "body": body, "signature": signature})
                status, extra, answer = fake.script.pop(0) if fake.script else (200, {}, b'{"ok": true}')
                time.sleep(fake.delay)
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def fake() -> Iterator[FakeLambda]:
    server = FakeLambda()
    yield server
    server.server.shutdown()


def test_a_signed_call_and_its_result(fake: FakeLambda) -> None:
    client = InvokeClient(fake.url, KEY, 5, region="eu-west-1")
    assert client.invoke("arn:aws:lambda:eu-west-1:1:function:f", {"op": "x"}) == {"ok": True}
    seen = fake.seen[0]
    assert seen["path"] == "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A1%3Afunction%3Af/invocations"
    assert seen["body"] == b'{"op": "x"}' and seen["headers"]["x-amz-invocation-type"] == "RequestResponse"
    assert seen["headers"]["x-amz-security-token"] == "session-token-abc"
    assert "/eu-west-1/lambda/aws4_request" in seen["headers"]["authorization"]
    assert seen["signature"] is None  # botocore's verifier accepts it


def test_an_asynchronous_call_is_an_event(fake: FakeLambda) -> None:
    fake.script.append((202, {}, b""))
    assert InvokeClient(fake.url, KEY, 5).invoke("f", {}, asynchronous=True) == {}
    assert fake.seen[0]["headers"]["x-amz-invocation-type"] == "Event"


def test_throttling_and_5xx_are_retried_within_the_attempts(fake: FakeLambda) -> None:
    fake.script += [(429, {}, b"{}"), (503, {}, b"{}"), (200, {}, b'{"n": 3}')]
    assert InvokeClient(fake.url, KEY, 5, attempts=3).invoke("f", {}) == {"n": 3}
    assert len(fake.seen) == 3 and all(s["signature"] is None for s in fake.seen)
    fake.script += [(500, {}, b"{}"), (502, {}, b"{}")]
    with pytest.raises(InvokeFailed, match="502"):
        InvokeClient(fake.url, KEY, 5, attempts=2).invoke("f", {})


def test_a_client_error_is_not_retried(fake: FakeLambda) -> None:
    fake.script.append((404, {"x-amzn-ErrorType": "ResourceNotFoundException:http://internal"}, b"{}"))
    with pytest.raises(InvokeFailed, match=r"404 ResourceNotFoundException$"):
        InvokeClient(fake.url, KEY, 5, attempts=3).invoke("missing", {})
    assert len(fake.seen) == 1


def test_a_function_error_is_an_error_result_and_its_payload_is_not_logged(
    fake: FakeLambda, caplog: pytest.LogCaptureFixture
) -> None:
    fake.script.append((200, {"X-Amz-Function-Error": "Unhandled"}, b'{"errorMessage": "value was secret-doc"}'))
    result = InvokeClient(fake.url, KEY, 5).invoke("f", {})
    assert "Unhandled" in caplog.text and "secret-doc" not in caplog.text
    assert result == {"error": {"code": "internal", "message": "processing handler failed"}}


def test_an_unreachable_endpoint_fails_as_invoke_failed() -> None:
    with pytest.raises(InvokeFailed):
        InvokeClient("http://127.0.0.1:9", KEY, 2, attempts=2).invoke("f", {})


def test_the_invoker_answers_unavailable_when_the_call_fails(fake: FakeLambda) -> None:
    fake.script += [(503, {}, b"{}")] * 3
    invoker = LambdaInvoker(InvokeClient(fake.url, KEY, 5, attempts=3), {"entity_worker": "deployed-name"})
    assert invoker.invoke("entity_worker", {"op": "x"})["error"]["code"] == "unavailable"
    assert fake.seen[0]["path"] == "/2015-03-31/functions/deployed-name/invocations"


def test_which_transport() -> None:
    lam = {"AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "S", "AWS_SESSION_TOKEN": "T", "AWS_REGION": "eu-west-1"}
    aws = transport(None, None, timeout=5, attempts=3, environ=lam)
    assert isinstance(aws, InvokeClient) and aws.url == "https://lambda.eu-west-1.amazonaws.com"
    worker = transport("http://127.0.0.1:9001", "s" * 40, timeout=5, attempts=3, environ={})
    assert isinstance(worker, InvokeClient) and worker.url == "http://127.0.0.1:9001"
    assert isinstance(transport(None, None, timeout=5, attempts=3, environ={}), Boto3Lambda)  # boto3 finds them
    assert aws_endpoint("cn-north-1", {}) == "https://lambda.cn-north-1.amazonaws.com.cn"
    for other in ({"AWS_REGION": "us-iso-east-1"}, {"AWS_REGION": "eusc-de-east-1"}, {"AWS_USE_FIPS_ENDPOINT": "true"},
                  {"HTTPS_PROXY": "http://proxy:3128"}, {"AWS_CA_BUNDLE": "/etc/ca.pem"}):  # fmt: skip
        assert isinstance(transport(None, None, timeout=5, attempts=3, environ=lam | other), Boto3Lambda), other
    assert aws_endpoint("us-east-1", {"AWS_ENDPOINT_URL_LAMBDA": "http://localhost:4566"}) == "http://localhost:4566"


def test_a_call_that_timed_out_is_not_sent_again(fake: FakeLambda) -> None:
    fake.delay = 1.5
    with pytest.raises(InvokeTimedOut):
        InvokeClient(fake.url, KEY, 0.5, attempts=3).invoke("f", {"op": "write"})
    time.sleep(1.2)  # let the slow answer finish on the server's side
    assert len(fake.seen) == 1


def test_an_endpoint_behind_a_path_prefix_is_signed_as_sent(fake: FakeLambda) -> None:
    assert InvokeClient(fake.url + "/lambda-proxy/", KEY, 5).invoke("f", {}) == {"ok": True}
    assert fake.seen[0]["path"] == "/lambda-proxy/2015-03-31/functions/f/invocations"
    assert fake.seen[0]["signature"] is None


def test_bad_urls_are_refused() -> None:
    for url in ("ftp://x", "127.0.0.1:9001", "http://"):
        with pytest.raises(ValueError):
            InvokeClient(url, KEY, 5)


def test_json_results_round_trip(fake: FakeLambda) -> None:
    doc = {"value": "é\u2028", "n": [1, 2.5, None]}
    fake.script.append((200, {}, json.dumps(doc).encode()))
    assert InvokeClient(fake.url, KEY, 5).invoke("f", {}) == doc
