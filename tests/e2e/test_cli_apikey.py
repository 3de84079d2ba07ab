"""`deltadb apikey create|list|delete` on a server's store: the keys work against the running server."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import s3servers
from tests.e2e.servers import ServerProcess

pytestmark = pytest.mark.e2e


def deltadb(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local.cli", *args], cwd=s3servers.ROOT, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path / "data")
    try:
        srv.start()
        yield srv
    finally:
        srv.cleanup()


def test_a_key_made_by_the_cli_works_at_once_and_its_deletion_too(server: ServerProcess) -> None:
    store = ("--data-dir", str(server.data_dir))
    made = deltadb("apikey", "create", "ci", "--permissions", "read,write", "--expires-in", "7d", "--json", *store)
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)
    assert key["permissions"] == ["read", "write"] and key["expires_at"] and key["secret"].startswith("dk_")
    assert server.put("db", {"k": {"v": 1}}, credential=key["secret"]).status == 200

    listed = deltadb("apikey", "list", "--json", *store)
    assert listed.returncode == 0 and key["secret"] not in listed.stdout
    assert [k["id"] for k in json.loads(listed.stdout)] == [key["id"]]
    table = deltadb("apikey", "list", *store)
    assert table.returncode == 0 and key["id"] in table.stdout and key["secret"] not in table.stdout

    assert server.get("db", "k", credential=key["secret"]).status == 200
    gone = deltadb("apikey", "delete", key["id"], *store)
    assert gone.returncode == 0, gone.stderr
    assert server.get("db", "k", credential=key["secret"]).status == 401


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("apikey", "delete", "0123456789abcdef"), 1, "no API key with id"),
        (("apikey", "create", "x", "--permissions", "root"), 2, "unknown permission"),
        (("apikey", "create", "x", "--permissions", "read", "--expires-in", "soon"), 2, "invalid duration"),
        (("apikey", "create", "x"), 2, "--permissions"),
        (("apikey", "list", "--no-such-flag"), 2, "unrecognized arguments"),
    ],
)
def test_bad_input_is_one_clear_sentence_and_changes_nothing(
    tmp_path: Path, args: tuple[str, ...], code: int, says: str
) -> None:
    store = ("--data-dir", str(tmp_path / "data"))
    assert deltadb("apikey", "create", "kept", "--permissions", "read", *store).returncode == 0
    before = deltadb("apikey", "list", "--json", *store).stdout
    result = deltadb(*args, *store)
    assert result.returncode == code and says in result.stderr, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    after = deltadb("apikey", "list", "--json", *store)
    assert after.returncode == 0 and after.stdout == before and len(json.loads(before)) == 1
