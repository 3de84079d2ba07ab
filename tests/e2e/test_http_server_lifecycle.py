"""The REST contract (docs/api-contract.md), against the real ``deltadb serve`` over HTTP:
what survives a restart, the admin key generated on first start, and a clean stop.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest

from tests.e2e.http_helpers import assert_error, assert_ok, create_key, login, same_json
from tests.e2e.servers import ADMIN_KEY, ServerFactory

pytestmark = pytest.mark.e2e


def test_persistence_across_restart(server_factory: ServerFactory) -> None:
    srv = server_factory()
    values = {"a": {"n": 1, "s": "ü"}, "b": [1.0, 2, None], "alice@example.com": "x" * 10_000}
    assert_ok(srv.put("persist", values))
    assert_ok(srv.admin("PUT", "/schema/persist", {"type": ["object", "array", "string"]}))
    key = create_key(srv, "survivor", ["read", "write"])
    token = login(srv, key["secret"])["token"]
    admin_token = login(srv, ADMIN_KEY)["token"]

    assert srv.stop() is not None
    assert not srv.running
    srv.start()

    for k, v in values.items():
        r = srv.get("persist", k)
        assert r.status == 200 and same_json(r.json(), v), (k, r)
    assert "persist" in srv.request("GET", "/admin/schemas").json()
    assert_error(srv.put("persist", {"c": 5}), 400)  # the schema is still enforced
    assert srv.get("persist", "a", credential=key["secret"]).status == 200
    assert srv.get("persist", "a", credential=token).status == 200  # sessions survive a restart
    assert srv.request("GET", "/api/keys", credential=admin_token).status == 200
    assert_ok(srv.put("persist", {"a": {"n": 2}}, credential=token))
    assert srv.get("persist", "a").json() == {"n": 2}

    # restart with a new admin key: the old key and its sessions stop working, data stays
    srv.stop()
    old_key, srv.admin_key = ADMIN_KEY, "e2e-rotated-admin-key-9876543210"
    srv.start()
    assert_error(srv.request("GET", "/api/keys", credential=old_key), 401)
    assert_error(srv.request("GET", "/api/keys", credential=admin_token), 401)
    assert_error(srv.request("POST", "/api/login", {"key": old_key}), 401)
    assert srv.admin("GET", "/api/keys").status == 200
    assert srv.get("persist", "a").json() == {"n": 2}
    assert srv.get("persist", "b", credential=key["secret"]).json() == [1.0, 2, None]


def test_generated_admin_key_is_printed_once_and_survives_restart(server_factory: ServerFactory) -> None:
    srv = server_factory(admin_key=None)
    first = srv.stdout() + srv.stderr()
    found = re.findall(r"ak_[A-Za-z0-9_\-]+", first)
    assert len(found) == 1, srv.output()  # printed once, by one process
    admin_key = found[0]
    assert len(admin_key) >= 16
    assert "DEV MODE" not in first

    doc = login(srv, admin_key)
    assert doc["permissions"] == ["read", "write", "admin"]
    assert srv.request("GET", "/api/keys", credential=admin_key).status == 200
    assert_error(srv.request("GET", "/api/keys", credential="ak_" + secrets.token_urlsafe(32)), 401)
    assert_ok(srv.put("gen", {"k": 1}, credential=admin_key))
    # only a hash of it is kept
    for path in [*srv.files(), *(p for p in srv.secrets_dir.rglob("*") if p.is_file())]:
        assert admin_key.encode() not in path.read_bytes(), path

    srv.stop()
    srv.start()
    second = srv.stdout() + srv.stderr()
    assert "ak_" not in second, srv.output()
    assert login(srv, admin_key)["permissions"] == ["read", "write", "admin"]
    assert srv.get("gen", "k", credential=admin_key).json() == 1
    assert_error(srv.request("GET", "/api/keys", credential=ADMIN_KEY), 401)


def test_stop_leaves_no_process_behind(server_factory: ServerFactory) -> None:
    srv = server_factory()
    assert srv.proc is not None
    pgid = srv.proc.pid
    assert srv.request("GET", "/health").status == 200
    srv.stop()
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2 :].split()
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                members.append(entry.name)
    assert not members, f"processes of the server group still running: {members}"
