"""Workers accept only invocations signed (SigV4) with the shared worker secret."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from chalicelib.invoke.sigv4 import verify

URL = "http://127.0.0.1:9001/2015-03-31/functions/entity_worker/invocations"
SECRET = "s" * 40


def signed(body: bytes = b'{"op": "worker.info"}', key: str = "deltadb-main", secret: str = SECRET) -> dict[str, str]:
    request = AWSRequest(method="POST", url=URL, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(key, secret), "lambda", "us-east-1").add_auth(request)
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["host"] = "127.0.0.1:9001"
    return headers


def test_valid_signature() -> None:
    assert verify("POST", URL, signed(), b'{"op": "worker.info"}', "deltadb-main", SECRET) is None


def test_wrong_secret_key_or_body_is_refused() -> None:
    body = b'{"op": "worker.info"}'
    assert verify("POST", URL, signed(secret="x" * 40), body, "deltadb-main", SECRET) is not None
    assert verify("POST", URL, signed(key="someone"), body, "deltadb-main", SECRET) is not None
    assert verify("POST", URL, signed(), b'{"op": "entity.delete"}', "deltadb-main", SECRET) is not None
    other_path = URL.replace("entity_worker", "meta_worker")
    assert verify("POST", other_path, signed(), body, "deltadb-main", SECRET) is not None


def test_missing_or_stale_signature_is_refused() -> None:
    body = b'{"op": "worker.info"}'
    assert verify("POST", URL, {"host": "127.0.0.1:9001"}, body, "deltadb-main", SECRET) is not None
    later = datetime.now(UTC) + timedelta(minutes=6)
    assert verify("POST", URL, signed(), body, "deltadb-main", SECRET, now=later) is not None
