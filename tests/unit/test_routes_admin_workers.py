"""GET /admin/workers: admin only, and the shape of each worker's status.

Through chalice.test.Client in strict mode, on every backend and mode (tests/conftest.py ``api``).
"""

from __future__ import annotations

from tests.app_clients import Api


def test_admin_workers(api: Api) -> None:
    assert api.get("/admin/workers", token=None).status == 401
    ro = api.create_key(["read"])["secret"]
    assert api.get("/admin/workers", token=ro).status == 403
    r = api.get("/admin/workers")
    assert r.status == 200
    assert isinstance(r.json, list)
    for w in r.json:
        assert set(w) == {"worker_id", "status", "key_id", "last_seen", "tags"}
        assert w["status"] == "Available" and isinstance(w["tags"], dict)
