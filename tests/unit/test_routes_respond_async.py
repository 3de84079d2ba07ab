"""Asynchronous writes (Prefer: respond-async) and the /operations/{id} route that reports them.

Through chalice.test.Client in strict mode, on every backend and mode (tests/conftest.py ``api``).
"""

from __future__ import annotations

import time
from typing import Any

from tests.app_clients import Api


def _wait_done(api: Api, op_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        r = api.get(f"/operations/{op_id}")
        assert r.status == 200, r.raw
        if r.json["status"] != "pending" or time.monotonic() > deadline:
            return r.json  # type: ignore[no-any-return]
        time.sleep(0.05)


def test_respond_async_put(api: Api) -> None:
    marker = "ASYNC-PLAINTEXT-MARKER"
    body = {f"k{i}": {"i": i, "m": marker} for i in range(5)}
    r = api.put("/entity/adb", body, headers={"Prefer": "respond-async"})
    assert r.status == 202
    assert r.json["status"] == "pending"
    op_id = r.json["operation_id"]
    assert r.headers["Location"] == f"/operations/{op_id}"
    done = _wait_done(api, op_id)
    assert done["status"] == "done"
    assert sorted(e["key"] for e in done["entities"]) == sorted(body)
    assert all(e["status"] == "done" for e in done["entities"])
    for k, v in body.items():
        assert api.get(f"/entity/adb?key={k}").json == v
    for key, data in api.objects().items():
        assert marker.encode() not in data, key  # the persisted request is sealed too


def test_respond_async_validates_first_and_checks_access(api: Api) -> None:
    r = api.put("/entity/adb", {"../x": 1}, headers={"Prefer": "respond-async"})
    assert r.status == 400
    assert api.objects() == {}
    assert api.put("/entity/adb", {"k": 1}, headers={"Prefer": "respond-async"}, token=None).status == 401
    assert api.get("/operations/0123456789abcdef0123456789abcdef").status == 404
    assert api.get("/operations/%2E%2E").status == 400
    ro = api.create_key(["read"])["secret"]
    op_id = api.put("/entity/adb", {"k": 1}, headers={"Prefer": "respond-async"}).json["operation_id"]
    assert api.get(f"/operations/{op_id}", token=None).status == 401
    assert api.get(f"/operations/{op_id}", token=ro).status == 403
