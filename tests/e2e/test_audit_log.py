"""`--audit-log PATH`: one line per security-relevant action, from the server and the admin commands, no secret."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests import s3servers
from tests.e2e.servers import ADMIN_KEY, ServerProcess

pytestmark = pytest.mark.e2e

VALUE = "top-secret-document-text"


def deltadb(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "local.cli", *args], cwd=s3servers.ROOT, capture_output=True, input=stdin, timeout=120
    )


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def find(path: Path, action: str, **fields: Any) -> dict[str, Any]:
    found = [r for r in lines(path) if r["action"] == action and all(r.get(k) == v for k, v in fields.items())]
    assert found, (action, fields, lines(path))
    return found[-1]


def test_every_action_writes_its_line_and_no_line_holds_a_secret(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    server = ServerProcess(tmp_path / "data", extra_args=("--audit-log", str(log)))
    try:
        server.start()
        # login: the admin key, then a wrong dk_ key (its id is named, never the secret)
        token = server.request("POST", "/api/login", {"key": ADMIN_KEY}).json()["token"]
        wrong = "dk_0123456789abcdef_" + "x" * 43
        assert server.request("POST", "/api/login", {"key": wrong}).status == 401
        # API keys: created, changed, deleted
        made = server.admin("POST", "/api/keys", {"name": "ci", "permissions": ["read", "write"]}).json()
        assert server.admin("PATCH", f"/api/keys/{made['id']}", {"enabled": False}).status == 200
        assert server.admin("PATCH", f"/api/keys/{made['id']}", {"enabled": True}).status == 200
        # entities and schemas, by the key (actor: its id) and by a session
        assert server.put("chat", {"k1": {"text": VALUE}}, credential=made["secret"]).status == 200
        assert server.request("DELETE", "/entity/chat?key=k1", credential=token).status == 200
        assert server.put("chat", {"k2": {"text": VALUE}}).status == 200
        schema = {"type": "object", "description": VALUE}
        assert server.admin("PUT", "/schema/other", schema).status == 200
        assert server.admin("DELETE", "/schema/other").status == 200
        assert server.request("PUT", "/schema/other", schema, credential=wrong_by_one(made["secret"])).status == 401
        # rewrap, asynchronously, to its end
        started = server.admin("POST", "/admin/rewrap", {"db": "chat"})
        assert started.status == 202, started.body
        op = started.json()["operation_id"]
        deadline = time.monotonic() + 30
        while (state := server.admin("GET", f"/operations/{op}").json())["status"] == "pending":
            assert time.monotonic() < deadline, state
            time.sleep(0.1)
        assert state["status"] == "done" and state["result"]["skipped"] == 1, state
        assert server.admin("DELETE", f"/api/keys/{made['id']}").status == 200
    finally:
        server.cleanup()

    store = ("--data-dir", str(server.data_dir), "--secrets-dir", str(server.secrets_dir), "--audit-log", str(log))
    cli_key = deltadb("apikey", "create", "ops", "--permissions", "read", "--json", *store)
    assert cli_key.returncode == 0, cli_key.stderr
    dump = deltadb("export", *store)
    assert dump.returncode == 0 and VALUE.encode() in dump.stdout, dump.stderr
    assert deltadb("import", "--overwrite", *store, stdin=dump.stdout).returncode == 0

    cli_secret = json.loads(cli_key.stdout)["secret"]
    text = log.read_text()
    for secret in (ADMIN_KEY, wrong, made["secret"], cli_secret, token, VALUE):
        assert secret not in text, "a secret, token or document content reached the audit log"

    find(log, "login", actor="admin", result="ok")
    find(log, "login", actor="0123456789abcdef", result="denied")
    find(log, "apikey.create", actor="admin", target=made["id"], result="ok")
    find(log, "apikey.update", actor="admin", target=made["id"], result="ok")
    find(log, "apikey.delete", actor="admin", target=made["id"], result="ok")
    write = find(log, "entity.write", actor=made["id"], target="chat", result="ok")
    assert write["request_id"]
    find(log, "entity.delete", actor="admin", target="chat/k1", result="ok")
    find(log, "schema.write", actor="admin", target="other", result="ok")
    find(log, "schema.delete", actor="admin", target="other", result="ok")
    find(log, "schema.write", actor="anonymous", target="other", result="denied")
    start = find(log, "rewrap.start", actor="admin", target="chat", result="ok")
    finish = find(log, "rewrap.finish", actor="admin", target="chat", result="ok")
    assert finish["request_id"] == start["request_id"] and finish["detail"]["skipped"] == 1
    cli = find(log, "apikey.create", target=json.loads(cli_key.stdout)["id"], result="ok")
    assert cli["actor"].startswith("cli")
    assert find(log, "export", target="*", result="ok")["detail"] == {"exported": 1}
    assert find(log, "import", target="*", result="ok")["detail"] == {"imported": 1, "refused": 0}
    for record in lines(log):
        assert set(record) <= {"time", "actor", "action", "target", "result", "request_id", "detail"}


def wrong_by_one(secret: str) -> str:
    """The secret with its last character changed (to another one, always)."""
    return secret[:-1] + ("B" if secret.endswith("A") else "A")
