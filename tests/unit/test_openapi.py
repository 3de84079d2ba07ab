"""The OpenAPI document (chalicelib/openapi.json): valid OpenAPI 3.1, exactly the app's routes, served publicly."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

import app as deployed
from chalicelib.auth.principal import ADMIN, READ, WRITE
from chalicelib.bootstrap import Runtime
from chalicelib.routes import RESOURCES
from chalicelib.routes.docs import document
from chalicelib.routes.table import AUTHENTICATED, OPTIONAL, PUBLIC
from tests.conftest import AppClient, make_settings

DOC_PATH = Path(__file__).resolve().parents[2] / "chalicelib" / "openapi.json"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DOC_PATH.read_text(encoding="utf-8"))
    return loaded


def operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (path, method.upper()): op
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in HTTP_METHODS
    }


def test_is_valid_openapi_31(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.1.")
    validate(doc, cls=OpenAPIV31SpecValidator)


def test_documents_exactly_the_apps_routes(doc: dict[str, Any]) -> None:
    in_app = {(path, method) for path, methods in deployed.app.routes.items() for method in methods}
    in_doc = set(operations(doc))
    assert sorted(in_app - in_doc) == [], "routes of the app missing from chalicelib/openapi.json"
    assert sorted(in_doc - in_app) == [], "operations in chalicelib/openapi.json that the app does not have"


def test_options_is_documented_as_405_with_allow_on_every_path(doc: dict[str, Any]) -> None:
    """The route table answers OPTIONS 405 on every path: the document says so per path."""
    for path, item in doc["paths"].items():
        options = item.get("options")
        assert options is not None, path
        assert set(options["responses"]) == {"405"}, path
        assert options["security"] == [], path
        response = options["responses"]["405"]
        assert "Allow" in response["headers"], path
        others = sorted(m.upper() for m in item if m in HTTP_METHODS and m != "options")
        assert f"Allow: {', '.join(others)}" in options["description"], path


def test_access_rules_match_the_route_tables(doc: dict[str, Any]) -> None:
    """``x-access`` and ``security`` say what each route's declared access is; 401/403 documented where they occur."""
    ops = operations(doc)
    declared = {(r.path, r.method): r.access for module in RESOURCES for r in module.routes._routes}
    assert set(declared) == {k for k in ops if k[1] != "OPTIONS"}
    for key, access in declared.items():
        op = ops[key]
        assert op["x-access"] == access, key
        codes = set(op["responses"])
        if access == PUBLIC:
            assert op["security"] == [], key
            assert "403" not in codes, key  # (login's 401 is its answer to an unknown key, not an access check)
        elif access == OPTIONAL:
            assert {} in op["security"], key
        else:
            assert "security" not in op, key  # the document's default: bearer
            assert "401" in codes, key
            assert ("403" in codes) == (access in (READ, WRITE, ADMIN)), key
            assert access in (AUTHENTICATED, READ, WRITE, ADMIN), key


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def test_every_error_is_the_error_body(doc: dict[str, Any]) -> None:
    for key, op in operations(doc).items():
        for code, response in op["responses"].items():
            if int(code) < 400:
                continue
            body = _resolve(doc, response)["content"]["application/json"]["schema"]
            assert body == {"$ref": "#/components/schemas/Error"}, (key, code)
    error = doc["components"]["schemas"]["Error"]
    assert error["required"] == ["error"] and error["additionalProperties"] is False
    assert error["properties"]["error"]["type"] == "string"


def test_conditional_and_async_headers_are_documented(doc: dict[str, Any]) -> None:
    ops = operations(doc)
    put, get, delete = ops[("/entity/{db}", "PUT")], ops[("/entity/{db}", "GET")], ops[("/entity/{db}", "DELETE")]

    def headers(op: dict[str, Any]) -> set[str]:
        return {p["name"] for p in op.get("parameters", ()) if p["in"] == "header"}

    assert headers(put) == {"If-Match", "If-None-Match", "Prefer"}
    assert headers(get) == {"If-None-Match"}
    assert headers(delete) == {"If-Match"}
    assert "ETag" in get["responses"]["200"]["headers"] and "ETag" in get["responses"]["304"]["headers"]
    assert "content" not in get["responses"]["304"]
    assert put["responses"]["202"]["headers"]["Location"]["required"] is True
    assert {"412"} <= set(put["responses"]) and {"412"} <= set(delete["responses"])


NAME_CASES = [
    ("session_001", True),
    ("alice@example.com", True),
    ("with space", True),
    ("日本", True),
    ("100%", True),
    (".hidden", True),
    ("a.b.c", True),
    ("", False),
    ("a/b", False),
    ("a\\b", False),
    ("..", False),
    ("a..b", False),
    ("x/..", False),
]


@pytest.mark.parametrize(("name", "valid"), NAME_CASES)
def test_name_schema_matches_the_name_rule(doc: dict[str, Any], name: str, valid: bool) -> None:
    from chalicelib import names
    from chalicelib.errors import BadRequest

    schema = doc["components"]["schemas"]["Name"]
    in_doc = len(name) >= schema["minLength"] and re.search(schema["pattern"], name) is not None
    try:
        names.validate(name)
        in_app = True
    except BadRequest:
        in_app = False
    assert in_doc == in_app == valid


def test_served_without_credentials(tmp_path: Path) -> None:
    client = AppClient(Runtime(make_settings(tmp_path)))
    r = client.http.get("/openapi.json")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert json.loads(r.body) == json.loads(DOC_PATH.read_text(encoding="utf-8"))
    assert document() is document()  # read once
    refused = client.http.request("OPTIONS", "/openapi.json", headers={}, body=b"")
    assert refused.status_code == 405
    assert refused.headers["Allow"] == "GET"
