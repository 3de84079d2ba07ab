"""POST /admin/rewrap: an asynchronous rewrap through the route table, polled as an operation."""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from chalicelib import names
from chalicelib.crypto import envelope
from chalicelib.crypto.local_keyring import LocalKeyRing, key_id_for
from chalicelib.entities import entity_object
from tests.conftest import Api
from tests.keyhelpers import hierarchy, seal_v1


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
    key_path = tmp_path / "secrets" / "keyring.json"
    assert api.put("/entity/db", {f"k{i}": {"i": i} for i in range(25)}).status == 200  # format 2
    assert api.put("/entity/other", {"x": 1}).status == 200
    old = LocalKeyRing.from_file(key_path)
    old_id = old.active_key_id  # now: the keyring re-reads its file once it changes (a second later)
    for i in range(25, 35):  # format 1: written before format 2, under the same (old) master
        api.storage.put(entity_object("db", f"k{i}"), seal_v1(old, "db", f"k{i}", json.dumps({"i": i}).encode()))
    # Rotated by hand, as a server that had not seen a `deltadb key rotate` leaves it: the
    # database key records stay under the old master until the rewrap moves them.
    new_id = rotate(key_path)
    api = configure()  # a restart with the rotated keyring
    started = api.post("/admin/rewrap", {"db": "db"})
    assert started.status == 202 and started.json["status"] == "pending", started.raw
    state = finished(api, started.headers["Location"])
    assert state["status"] == "done" and state["entities"] == []
    assert {k: state["result"][k] for k in ("db", "rewrapped", "skipped", "failed")} == {
        "db": "db", "rewrapped": 10, "skipped": 25, "failed": 0,
    }  # fmt: skip

    def masters() -> dict[str, set[str]]:
        keys = hierarchy(LocalKeyRing.from_file(key_path), api.storage)
        found: dict[str, set[str]] = {}
        for name, blob in api.objects().items():
            if name.startswith("files/"):
                db = names.decode(name.split("/")[1])
                found.setdefault(db, set()).add(envelope.master_key_id(keys, db, blob))
        return found

    assert masters() == {"db": {new_id}, "other": {old_id}}  # only the database asked for
    assert "_keys/rewrap-checkpoint.json" not in api.objects()
    assert api.get("/entity/db?key=k7").json == {"i": 7} and api.get("/entity/db?key=k30").json == {"i": 30}
    everything = finished(api, api.post("/admin/rewrap").headers["Location"])  # no body: every database
    assert {k: everything["result"][k] for k in ("rewrapped", "skipped", "failed")} == {
        "rewrapped": 0, "skipped": 36, "failed": 0,
    }  # fmt: skip
    assert masters() == {"db": {new_id}, "other": {new_id}}  # other's record moved: nothing needs the old master


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"db": "nope"}, 404, "no database named 'nope'"),
        ({"db": "a/b"}, 400, "invalid database name"),
        ({"db": "db", "extra": 1}, 400, "optional 'db'"),
        ([1], 400, "optional 'db'"),
        ("{", 400, "invalid JSON"),
        ("null", 400, "optional 'db'"),
        ({"db": None}, 400, "database name must be a non-empty string"),
    ],
)
def test_bad_bodies_are_4xx_and_start_nothing(configure: Any, body: Any, status: int, says: str) -> None:
    api = configure()
    assert api.put("/entity/db", {"k": 1}).status == 200

    def layout() -> dict[str, bytes]:  # the database key record the PUT made, and nothing else under these
        return {k: v for k, v in api.objects().items() if k.startswith(("_ops/", "_keys/"))}

    before = layout()
    assert list(before) == ["_keys/databases/db.json"]
    r = api.post("/admin/rewrap", raw=body) if isinstance(body, str) else api.post("/admin/rewrap", body)
    assert r.status == status and says in r.json["error"] and set(r.json) == {"error"}, r.raw
    assert layout() == before


def test_only_admins_may_rewrap(configure: Any) -> None:
    api = configure()
    writer = api.create_key(["read", "write"])["secret"]
    assert api.post("/admin/rewrap", token=writer).status == 403
    assert api.post("/admin/rewrap", token=None).status == 401
