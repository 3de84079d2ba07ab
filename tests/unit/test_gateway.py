"""The local server's gateway: the query parsing, path matching and requests it makes itself, and its request ids."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from chalice.app import Request

from chalicelib.bootstrap import Runtime
from chalicelib.webapp import create_app
from local.gateway import ProxyGateway, parse_query
from local.gateway_request import REQUEST_IDS, LambdaContext, LocalRequest
from tests.conftest import ADMIN_KEY, make_settings
from tests.forks import in_forked_child


@pytest.mark.parametrize(
    "query",
    ["key=doc-1", "key=a&key=b", "key=", "key", "&&key=x&", "a=1=2", "key=%2F", "key=a+b", "key=%ff", "k%3D=v", "=v"],
)
def test_queries_parse_as_parse_qs_parses_them(query: str) -> None:
    assert parse_query(query) == parse_qs(query, keep_blank_values=True, errors="surrogateescape")


def test_random_queries_parse_as_parse_qs_parses_them() -> None:
    rng = random.Random(7)
    alphabet = "ab=&;%+é2F \x00"
    for _ in range(20_000):
        query = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert parse_query(query) == parse_qs(query, keep_blank_values=True, errors="surrogateescape"), query


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> ProxyGateway:
    return ProxyGateway(create_app(Runtime(make_settings(tmp_path_factory.mktemp("gateway")))))


def test_a_remembered_path_gives_each_request_its_own_parameters(gateway: ProxyGateway) -> None:
    first = gateway.match("/entity/db1")
    assert first == ("/entity/{db}", {"db": "db1"})
    assert first[1] is not None
    first[1]["db"] = "changed"  # a view may change what it got; the next request must not see it
    assert gateway.match("/entity/db1") == ("/entity/{db}", {"db": "db1"})
    assert gateway.match("/entity/db1/") == ("/entity/{db}", {"db": "db1"})
    assert gateway.match("/entity/db1/keys") == ("/entity/{db}/keys", {"db": "db1"})
    assert gateway.match("/no/such/path") is None
    assert gateway.match("/no/such/path") is None


def test_a_request_through_the_gateway_is_answered(gateway: ProxyGateway) -> None:
    auth = {"authorization": f"Bearer {ADMIN_KEY}"}
    put = gateway.handle("PUT", "/entity/db1", "", auth, b'{"k": {"n": 1}}')
    assert put is not None and put.status_code == 200, put.body
    got = gateway.handle("GET", "/entity/db1", "key=k", auth, b"")
    assert got is not None and got.status_code == 200 and got.body == '{"n":1}', got.body
    assert got.headers["ETag"] == put.headers["ETag"]
    bad = gateway.handle("GET", "/entity/db1", "key=%ff", auth, b"")  # invalid UTF-8: 400, not another key
    assert bad is not None and bad.status_code == 400, bad.body
    wrong = gateway.handle("POST", "/entity/db1", "", auth, b"{}")  # a method the path lacks: Chalice's own 405
    assert wrong is not None and wrong.status_code == 405
    assert json.loads(wrong.body) == {"error": "unsupported method: post"} and "PUT" in str(wrong.headers["Allow"])


def _request(method: str, raw_path: str, resource: str, **parts: Any) -> LocalRequest:
    defaults: dict[str, Any] = {
        "headers": {},
        "query": None,
        "path_params": None,
        "body": b"",
        "source_ip": "127.0.0.1",
    }
    return LocalRequest(
        method=method, raw_path=raw_path, resource=resource, stage="api", lambda_context=LambdaContext("fn"),
        **{**defaults, **parts},
    )  # fmt: skip


def test_a_local_request_reads_as_chalices_request_from_api_gateways_event() -> None:
    """What a view or middleware reads is what it reads on Lambda, where Chalice makes the Request
    from API Gateway's REST proxy event (written out here as API Gateway sends it)."""
    headers = {"authorization": "Bearer t", "content-type": "application/json", "if-match": '"e"'}
    event = {
        "resource": "/entity/{db}",
        "path": "/entity/d%2Fb",
        "httpMethod": "PUT",
        "headers": {"Authorization": "Bearer t", "Content-Type": "application/json", "If-Match": '"e"'},
        "multiValueHeaders": {"Authorization": ["Bearer t"], "Content-Type": ["application/json"], "If-Match": ['"e"']},
        "queryStringParameters": {"key": "b", "x": ""},
        "multiValueQueryStringParameters": {"key": ["a", "b"], "x": [""]},
        "pathParameters": {"db": "d%2Fb"},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/entity/{db}",
            "httpMethod": "PUT",
            "path": "/api/entity/d%2Fb",
            "stage": "api",
            "identity": {"sourceIp": "10.0.0.9"},
        },
        "body": '{"k": 1}',
        "isBase64Encoded": False,
    }
    local = _request(
        "PUT", "/entity/d%2Fb", "/entity/{db}", headers=headers, query={"key": ["a", "b"], "x": [""]},
        path_params={"db": "d%2Fb"}, body=b'{"k": 1}', source_ip="10.0.0.9",
    )  # fmt: skip
    chalice = Request(event, local.lambda_context)
    # Every attribute Chalice's Request has, the local one has too (a Chalice upgrade adding one fails here).
    assert set(vars(chalice)) - {"_event_dict"} <= set(vars(local))
    for name in ("method", "uri_params", "context", "stage_vars", "path", "raw_body", "json_body", "lambda_context"):
        assert getattr(local, name) == getattr(chalice, name), name
    assert dict(local.headers) == dict(chalice.headers)
    assert local.headers.get("If-Match") == chalice.headers.get("If-Match") == '"e"'
    assert local.query_params is not None and chalice.query_params is not None
    assert dict(local.query_params) == dict(chalice.query_params) == {"key": "b", "x": ""}
    assert local.query_params.getlist("key") == chalice.query_params.getlist("key") == ["a", "b"]
    assert local.to_dict() == chalice.to_dict()
    rebuilt = local.to_original_event()  # what the fallback hands app(event, context)
    assert Request(rebuilt).to_dict() == Request(event).to_dict()
    bare = _request("GET", "/health", "/health")
    plain = Request({**event, "multiValueQueryStringParameters": None, "pathParameters": None, "body": None})
    assert (bare.query_params, bare.raw_body, bare.uri_params) == (plain.query_params, plain.raw_body, None)


def test_request_ids_are_unique_and_made_only_when_read() -> None:
    ids = {LambdaContext("f").aws_request_id for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    context = LambdaContext("f")
    assert context._request_id is None
    assert context.aws_request_id == context.aws_request_id


def test_a_forked_process_makes_other_request_ids(tmp_path: Path) -> None:
    _pid, child = in_forked_child(REQUEST_IDS.next, tmp_path)
    assert child[:20] != REQUEST_IDS.next()[:20]


def test_request_headers_by_lower_case_name_with_repeats_joined() -> None:
    from local.asgi_plumbing import header_dict

    once = {"headers": [(b"Host", b"h"), (b"authorization", b"Bearer x")]}
    assert header_dict(once) == {"host": "h", "authorization": "Bearer x"}
    repeated = {"headers": [(b"accept", b"a"), (b"x-one", b"1"), (b"Accept", b"b"), (b"accept", b"c")]}
    assert header_dict(repeated) == {"accept": "a, b, c", "x-one": "1"}


def test_a_failing_audit_line_never_changes_the_answer(gateway: ProxyGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib import audit

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("audit sink broken")

    monkeypatch.setattr(audit, "record", broken)
    auth = {"authorization": f"Bearer {ADMIN_KEY}"}
    put = gateway.handle("PUT", "/entity/db1", "", auth, b'{"audited": 1}')
    assert put is not None and put.status_code == 200, put.body
    bad = gateway.handle("DELETE", "/entity/db1", "key=%ff", auth, b"")
    assert bad is not None and bad.status_code == 400, bad.body
