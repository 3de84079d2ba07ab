"""The access log: one line per request, naming route and status, never secrets or document content.

Through chalice.test.Client in strict mode, on every backend and mode (tests/conftest.py ``api``).
"""

from __future__ import annotations

import json

import pytest

from tests.app_clients import ADMIN_KEY, Api


def test_one_access_log_line_per_request_without_secrets(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    token = api.login(ADMIN_KEY)
    with caplog.at_level(logging.INFO, logger="deltadb.access"):
        caplog.clear()  # only these three requests (whether the login was logged depends on earlier tests)
        api.put("/entity/secretdb", {"secret-key": {"v": "secret-value"}}, token=token)
        api.get("/entity/secretdb?key=secret-key", token=token)
        api.request("PATCH", "/entity/secretdb", token=token)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "deltadb.access"]
    assert [(x["method"], x["route"], x["status"]) for x in lines] == [
        ("PUT", "/entity/{db}", 200),
        ("GET", "/entity/{db}", 200),
        ("PATCH", "/entity/{db}", 405),
    ]
    assert lines[0]["principal"] == "admin" and lines[0]["ms"] >= 0
    # (the audit trail names its targets by design — db, db/key — so only the access log is looked at)
    text = "\n".join(r.getMessage() for r in caplog.records if r.name != "deltadb.audit")
    for secret in (ADMIN_KEY, token, "secretdb", "secret-key", "secret-value"):
        assert secret not in text
