"""What the routes leave in storage: the layout, no plaintext, and tampered or swapped objects detected.

Through chalice.test.Client in strict mode, on every backend and mode (tests/conftest.py ``api``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.app_clients import Api, error_of


def test_layout_and_no_plaintext_at_rest(api: Api, backend: str) -> None:
    marker = "PLAINTEXT-MARKER-Zq9"
    api.put("/entity/db", {"k": {"secret": marker}})
    api.put("/schema/s", {"type": "object"})
    api.create_key(["read"])
    objects = api.objects()
    assert {k.split("/", 1)[0] for k in objects} == {"_auth", "_keys", "files", "templates"}
    assert "files/db/k" in objects and "templates/s.json" in objects
    assert "_keys/databases/db.json" in objects  # the database key, wrapped by the master
    for key, data in objects.items():
        assert marker.encode() not in data, key
        assert not key.rsplit("/", 1)[-1].startswith(".tmp")
    # no key material in the storage: it lives in the secrets folder
    keyring = (api.data_dir.parent / "secrets" / "keyring.json").read_bytes()
    material = json.loads(keyring)["keys"][0]["material"].encode()
    assert all(material not in data for data in objects.values())
    if backend == "fs":
        top = sorted(p.name for p in api.data_dir.iterdir())
        assert top == [".deltadb.lock", "_auth", "_keys", "files", "templates"]  # the lock file holds no data
        assert (api.data_dir / ".deltadb.lock").stat().st_size == 0
        assert not [p for p in api.data_dir.rglob(".tmp*")]


def _tamper(api: Api, key: str, change: Any) -> None:
    api.storage.put(key, change(bytearray(api.storage.get(key).data)))


@pytest.mark.parametrize("where", ["ciphertext", "header", "wrapped_key", "truncate", "version", "unknown_version"])
def test_tampering_is_detected(api: Api, where: str) -> None:
    api.put("/entity/db", {"k": {"v": "x" * 100}})
    assert api.get("/entity/db?key=k").status == 200  # warm the read cache: tampering must still show

    def change(blob: bytearray) -> bytes:
        hlen = int.from_bytes(blob[5:7], "big")
        header = json.loads(blob[7 : 7 + hlen])
        if where == "ciphertext":
            blob[-20] ^= 1
        elif where == "header":
            blob[7 : 7 + hlen] = blob[7 : 7 + hlen].replace(b'"A256GCM"', b'"A256GCm"')
        elif where == "wrapped_key":
            wk = header["wk"]
            flipped = ("B" if wk[5] != "B" else "C").join([wk[:5], wk[6:]])
            blob[7 : 7 + hlen] = blob[7 : 7 + hlen].replace(wk.encode(), flipped.encode())
        elif where == "truncate":
            del blob[-1]
        elif where == "version":
            blob[4] = 1  # claims the other readable format
        elif where == "unknown_version":
            blob[4] = 3
        return bytes(blob)

    _tamper(api, "files/db/k", change)
    r = api.get("/entity/db?key=k")
    assert r.status == 500
    assert "integrity" in error_of(r)
    assert b"Traceback" not in r.raw


def test_swapped_entity_files_fail_to_decrypt(api: Api) -> None:
    api.put("/entity/db", {"a": "value-a", "b": "value-b"})
    a, b = api.storage.get("files/db/a").data, api.storage.get("files/db/b").data
    api.storage.put("files/db/a", b)
    api.storage.put("files/db/b", a)
    assert api.get("/entity/db?key=a").status == 500
    assert api.get("/entity/db?key=b").status == 500
    api.put("/entity/db2", {"a": "other"})
    api.storage.put("files/db/a", api.storage.get("files/db2/a").data)  # same key, other db
    assert api.get("/entity/db?key=a").status == 500
