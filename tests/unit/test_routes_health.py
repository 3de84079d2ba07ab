"""The /health route: public, minimal, and JSON errors for the methods it does not take.

Through chalice.test.Client in strict mode, on every backend and mode (tests/conftest.py ``api``).
"""

from __future__ import annotations

import pytest

from tests.app_clients import Api, error_of


def test_health_is_public_and_minimal(api: Api) -> None:
    r = api.get("/health", token=None)
    assert r.status == 200 and r.json == {"status": "ok"}


@pytest.mark.parametrize("method", ["POST", "DELETE", "PATCH", "OPTIONS"])
def test_health_other_methods_are_4xx_json(api: Api, method: str) -> None:
    r = api.request(method, "/health", token=None)
    assert 400 <= r.status < 500
    error_of(r)
