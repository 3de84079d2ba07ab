"""POST /admin/rewrap: an asynchronous rewrap through the route table, polled as an operation."""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from chalicelib.crypto import envelope
from chalicelib.crypto.local_keyring import LocalKeyRing, key_id_for
from tests.conftest import Api


def rotate(key_file: Path) -> str:
    doc = json.loads(key_file.read_text())
    material = os.urandom(32)
    doc["keys"].append({"id": key_id_for(material), "material": base64.b64encode(material).decode()})
    doc["active"] = key_id_for(material)
    key_file.write_text(json.dumps(doc))
    return doc["active"]  # type: ignore[no-any-return]


def finished(api: Api, location: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while (state := api.get(location).json)["status"] == "pending":
        assert time.monotonic() < deadline, state
        time.sleep(0.05)
    return state  # type: ignore[no-any-return]


def test_rewrap_runs_asynchronously_and_reports_its_counts(
    configure: Any, mode: tuple[str, str], tmp_path: Path
) -> None:
    if mode[1] == "pool" or mode[0] == "localstack":
        pytest.skip("the workers keep the keyring they started with; LocalStack adds nothing here")
    api = configure()
    assert api.put("/entity/db", {f"k{i}": {"i": i} for i in range(25)}).status == 200
    assert api.put("/entity/other", {"x": 1}).status == 200
    new_id = rotate(tmp_path / "secrets" / "keyring.json")
    api = configure()  # a restart with the rotated keyring
    started = api.post("/admin/rewrap", {"db": "db"})
    assert started.status == 202 and started.json["status"] == "pending", started.raw
    state = finished(api, started.headers["Location"])
    assert state["status"] == "done" and state["entities"] == []
    assert {k: state["result"][k] for k in ("db", "rewrapped", "skipped", "failed")} == {
        "db": "db", "rewrapped": 25, "skipped": 0, "failed": 0,
    }  # fmt: skip
    ring = LocalKeyRing.from_file(tmp_path / "secrets" / "keyring.json")
    objects = api.objects()
    kids: dict[str, set[str]] = {}
    for name, blob in objects.items():
        if name.startswith("files/"):
            kids.setdefault(name.split("/")[1], set()).add(envelope.master_key_id(ring, "", blob))
    assert kids["db"] == {new_id} and new_id not in kids["other"]  # only the database asked for
    assert "_keys/rewrap-checkpoint.json" not in objects
    assert api.get("/entity/db?key=k7").json == {"i": 7}
    everything = finished(api, api.post("/admin/rewrap").headers["Location"])  # no body: every database
    assert everything["result"]["rewrapped"] == 1 and everything["result"]["skipped"] == 25


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"db": "nope"}, 404, "no database named 'nope'"),
        ({"db": "a/b"}, 400, "invalid database name"),
        ({"db": "db", "extra": 1}, 400, "optional 'db'"),
        ([1], 400, "optional 'db'"),
        ("{", 400, "invalid JSON"),
    ],
)
def test_bad_bodies_are_4xx_and_start_nothing(configure: Any, body: Any, status: int, says: str) -> None:
    api = configure()
    assert api.put("/entity/db", {"k": 1}).status == 200
    r = api.post("/admin/rewrap", raw=body) if isinstance(body, str) else api.post("/admin/rewrap", body)
    assert r.status == status and says in r.json["error"] and set(r.json) == {"error"}, r.raw
    assert not [k for k in api.objects() if k.startswith(("_ops/", "_keys/"))]


def test_only_admins_may_rewrap(configure: Any) -> None:
    api = configure()
    writer = api.create_key(["read", "write"])["secret"]
    assert api.post("/admin/rewrap", token=writer).status == 403
    assert api.post("/admin/rewrap", token=None).status == 401
