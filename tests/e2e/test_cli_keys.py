"""`deltadb key list|rotate|retire` and `deltadb shred` against a running server's store.

A rotation reaches the running server's processes without a restart; bad input is one
clear sentence, an exit code, and changes nothing; the audit lines name no secret.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import s3servers
from tests.e2e.servers import ServerProcess

pytestmark = pytest.mark.e2e


def deltadb(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DELTADB_")} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "local.cli", *args], cwd=s3servers.ROOT, capture_output=True, text=True, timeout=120,
        env=clean,
    )  # fmt: skip


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path / "data", workers=2)
    try:
        srv.start()
        yield srv
    finally:
        srv.cleanup()


def record(server: ServerProcess, db: str) -> dict[str, str]:
    doc: dict[str, str] = json.loads((server.data_dir / "_keys" / "databases" / f"{db}.json").read_bytes())
    return doc


def test_a_rotation_reaches_the_running_server_without_restart(server: ServerProcess) -> None:
    """The operator's sequence: rotate, (the server keeps writing), rewrap, then retire the old version."""
    store = ("--data-dir", str(server.data_dir))
    assert server.put("a", {"k": {"v": 1}}).status == 200
    first = record(server, "a")["master"]
    rotated = deltadb("key", "rotate", "--json", *store)
    assert rotated.returncode == 0, rotated.stderr
    done = json.loads(rotated.stdout)
    current = done["current"]
    assert done["previous"] == first and current != first and done["database_keys"] == 1
    assert record(server, "a")["master"] == current  # moved by the command itself
    # New databases get keys under the new version from every server process within seconds. A
    # process that has not yet seen the rotation creates its new database's key under the old
    # version: correct, and the old version stays needed until rewrap moves that record.
    deadline, masters = time.monotonic() + 10, []
    for i in range(40):
        assert server.put(f"new{i}", {"k": {"i": i}}).status == 200
        masters.append(record(server, f"new{i}")["master"])
        if masters[-4:] == [current] * 4 or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert masters[-4:] == [current] * 4, masters
    assert set(masters) <= {first, current}
    assert server.put("a", {"k2": {"v": 2}}).status == 200
    assert server.get("a", "k").json() == {"v": 1} and server.get("a", "k2").json() == {"v": 2}
    dbs = ["a", *(f"new{i}" for i in range(len(masters)))]

    def counts() -> dict[str, tuple[int, int, bool]]:
        listed = deltadb("key", "list", "--count", "--json", *store)
        assert listed.returncode == 0, listed.stderr
        versions = json.loads(listed.stdout)["versions"]
        return {v["id"]: (v["database_keys"], v["entities"], v["current"]) for v in versions}

    stale = masters.count(first)  # records created under the old version after the rotation
    assert counts()[first] == (stale, stale, False)

    rewrapped = deltadb("rewrap", "--json", *store)
    assert rewrapped.returncode == 0, rewrapped.stderr
    assert json.loads(rewrapped.stdout)["failed"] == 0
    assert {db: record(server, db)["master"] for db in dbs} == dict.fromkeys(dbs, current)
    after = counts()
    assert after[first] == (0, 0, False)  # nothing needs the old version any more
    assert after[current] == (len(dbs), 2 + len(masters), True)

    retired = deltadb("key", "retire", first, *store)
    assert retired.returncode == 0 and f"retired {first}" in retired.stdout, retired.stderr
    for db in dbs:  # every entity still readable, the moved records' too
        assert server.get(db, "k").status == 200
    assert server.get("a", "k").json() == {"v": 1}
    table = deltadb("key", "list", *store)
    assert table.returncode == 0 and "destroyed" in table.stdout and current in table.stdout


def test_shred_from_the_cli(server: ServerProcess) -> None:
    store = ("--data-dir", str(server.data_dir))
    assert server.put("gone", {"k": {"secret": "s3cr3t-value"}}).status == 200
    assert server.put("kept", {"k": {"v": 1}}).status == 200
    shredded = deltadb("shred", "gone", "--yes", "--json", *store)
    assert shredded.returncode == 0, shredded.stderr
    out = json.loads(shredded.stdout)
    assert out["db"] == "gone" and out["objects_removed"] == 1 and out["warnings"] == [] and out["destroyed"]
    audit = [json.loads(line.split("deltadb.audit: ", 1)[1]) for line in shredded.stderr.splitlines()
             if "deltadb.audit: " in line]  # fmt: skip
    assert [(a["action"], a["target"], a["result"]) for a in audit] == [("database.shred", "gone", "ok")]
    assert audit[0]["actor"].startswith("cli")
    keyring = (server.secrets_dir / "keyring.json").read_text()
    materials = [k["material"] for k in json.loads(keyring)["keys"] if "material" in k]
    assert not any(m in shredded.stderr + shredded.stdout for m in materials) and "s3cr3t" not in shredded.stderr
    assert server.get("gone", "k").status == 404  # the name is free again: no entity, not a 500
    assert server.get("kept", "k").json() == {"v": 1}


def _state(server: ServerProcess) -> dict[str, bytes]:
    roots = (server.data_dir, server.secrets_dir)
    return {str(p): p.read_bytes() for root in roots for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("key", "retire", "local-0123456789abcdef"), 1, "no master key version 'local-0123456789abcdef'"),
        (("key", "retire", "CURRENT"), 1, "is the current master key version"),
        (("key", "rotate", "--kms-new-key-id", "alias/x"), 1, "applies to a KMS master only"),
        (("key", "list", "--no-such-flag"), 2, "unrecognized arguments"),
        (("key",), 2, "invalid choice"),
        (("shred", "nosuchdb", "--yes"), 1, "there is no database 'nosuchdb'"),
        (("shred", "a"), 2, "add --yes"),
        (("shred", "a/b", "--yes"), 2, "invalid database name"),
        (("key", "list", "--secrets-dir", "/nonexistent-secrets"), 2, "no keyring at"),
    ],
)
def test_bad_input_is_one_clear_sentence_and_changes_nothing(
    server: ServerProcess, args: tuple[str, ...], code: int, says: str
) -> None:
    assert server.put("a", {"k": {"v": 1}}).status == 200
    current = record(server, "a")["master"]
    args = tuple(current if a == "CURRENT" else a for a in args)
    before = _state(server)
    result = deltadb(*args, "--data-dir", str(server.data_dir))
    assert result.returncode == code and says in result.stderr, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()[-1]) < 300
    assert _state(server) == before
    assert server.get("a", "k").json() == {"v": 1}


def test_a_master_key_from_the_environment_cannot_rotate(tmp_path: Path) -> None:
    env = {"DELTADB_MASTER_KEY": base64.b64encode(os.urandom(32)).decode()}
    result = deltadb("key", "rotate", "--data-dir", str(tmp_path / "data"), env=env)
    assert result.returncode == 1 and "DELTADB_MASTER_KEY" in result.stderr and "cannot be rotated" in result.stderr
    listed = deltadb("key", "list", "--json", "--data-dir", str(tmp_path / "data"), env=env)
    assert listed.returncode == 0 and len(json.loads(listed.stdout)["versions"]) == 1
