"""The REST contract (docs/api-contract.md), against the real ``deltadb serve`` over HTTP:
/health, unknown paths (404 JSON) and wrong methods on known routes.

Paths are sent exactly as written (http.client does not normalise them).
"""

from __future__ import annotations

import pytest

from tests.e2e.http_helpers import assert_error
from tests.e2e.servers import ADMIN_KEY, ServerProcess

pytestmark = pytest.mark.e2e


def test_health_reveals_nothing_else(server: ServerProcess) -> None:
    r = server.request("GET", "/health")
    assert r.status == 200, r
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == {"status": "ok"}


def test_unknown_paths_are_404_json(server: ServerProcess) -> None:
    paths = [  # (/ is the web console's page: tests/unit/test_console_routes.py)
        "/nope",
        "/index.html",
        "/console",
        "/console/",
        "/console/app.js/x",
        "/entity",
        "/entity/",
        "/entity/db/extra",
        "/entity//x",
        "/api",
        "/api/keys/x/y",
        "/schema",
        "/schema/",
        "/admin",
        "/admin/schemas/x",
        "/health/x",
        "/HEALTH",
        "/../etc/passwd",
        "/%2e%2e/etc/passwd",
        "/static/index.html",
    ]
    for path in paths:
        for method in ("GET", "POST"):
            r = server.request(method, path, {"a": 1} if method == "POST" else None, credential=ADMIN_KEY)
            assert r.status == 404, (method, path, r)
            assert_error(r, 404)


def test_wrong_methods_are_refused(server: ServerProcess) -> None:
    entity_cases = [
        ("OPTIONS", "/entity/db", None, {"Origin": "https://evil.example", "Access-Control-Request-Method": "PUT"}),
        ("OPTIONS", "/entity/db", None, {}),
        ("PATCH", "/entity/db", {"k": 1}, {}),
        ("TRACE", "/entity/db", None, {}),
        ("DELETE", "/entity/db", None, {}),
        ("POST", "/entity/db", {"k": 1}, {}),
    ]
    for method, path, body, headers in entity_cases:
        for cred in (ADMIN_KEY, None):
            r = server.request(method, path, body, credential=cred, headers=headers)
            if cred is None and method == "DELETE":
                # auth is checked first on a known route+method: 401 is also a clean refusal
                assert r.status in (400, 401, 405), (method, r)
            else:
                assert r.status in (400, 405), (method, path, cred, r)
            assert_error(r, r.status)
            assert "access-control-allow-origin" not in r.headers, r.headers
            assert "access-control-allow-methods" not in r.headers, r.headers

    for method in ("POST", "DELETE", "PATCH", "PUT", "OPTIONS"):
        r = server.request(method, "/health", b"{}" if method in ("POST", "PUT", "PATCH") else None)
        assert 400 <= r.status < 500, (method, r)
        assert_error(r, r.status)

    for method, path in (("OPTIONS", "/api/login"), ("OPTIONS", "/schema/x"), ("GET", "/api/login")):
        r = server.request(method, path, credential=ADMIN_KEY)
        assert 400 <= r.status < 500, (method, path, r)
        assert_error(r, r.status)
