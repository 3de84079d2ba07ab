"""DELTADB_APIKEY_REVALIDATE_SECONDS: API-key records reused for a bounded time (records.RememberedKeys).

Unit tests of the adapter with a fake clock, then the routes on every backend and mode:
two apps on one store stand for two instances (tests/conftest.py ``configure``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.auth.apikeys import KeyRecord, new_key
from chalicelib.auth.authenticator import Authenticator
from chalicelib.auth.sessions import SessionClaims, SessionTokens
from chalicelib.errors import NotFound, Unauthorized
from chalicelib.handlers.protocol import DeleteApiKey, KeyRecordJson, UpdateApiKey
from chalicelib.records import RememberedKeys
from chalicelib.services.keys import KeyService
from tests.conftest import Api


class CountedRecords:
    """A KeyRecords port that counts its reads; ``during_read`` runs inside one."""

    def __init__(self) -> None:
        self.records: dict[str, KeyRecord] = {}
        self.reads = 0
        self.during_read: Any = None

    def get_key(self, key_id: str) -> KeyRecord | None:
        self.reads += 1
        if self.during_read is not None:
            self.during_read()
        return self.records.get(key_id)


def record(key_id: str, permissions: list[str]) -> KeyRecord:
    return KeyRecord.from_json(
        {"id": key_id, "name": "k", "permissions": permissions, "secret_sha256": "00" * 32,
         "created_at": "2026-12-01T00:00:00Z", "expires_at": None, "enabled": True}
    )  # fmt: skip


@pytest.fixture
def clock() -> list[float]:
    return [1000.0]


def remembered(records: CountedRecords, max_age: float, clock: list[float]) -> RememberedKeys:
    return RememberedKeys(records, max_age, clock=lambda: clock[0])


def test_zero_reads_the_record_on_every_use(clock: list[float]) -> None:
    records = CountedRecords()
    records.records["a"] = record("a", ["read"])
    keys = remembered(records, 0, clock)
    for _ in range(3):
        assert keys.get_key("a") == records.records["a"]
    assert records.reads == 3


def test_a_record_is_reused_for_max_age_then_read_again(clock: list[float]) -> None:
    records = CountedRecords()
    records.records["a"] = record("a", ["read"])
    keys = remembered(records, 5, clock)
    assert keys.get_key("a") is not None
    records.records["a"] = record("a", ["read", "write"])  # changed elsewhere
    clock[0] += 4.9
    assert keys.get_key("a").permissions == ("read",)  # type: ignore[union-attr]
    assert records.reads == 1
    clock[0] += 0.1
    assert keys.get_key("a").permissions == ("read", "write")  # type: ignore[union-attr]
    assert records.reads == 2


def test_an_absent_key_is_not_remembered(clock: list[float]) -> None:
    records = CountedRecords()
    keys = remembered(records, 60, clock)
    assert keys.get_key("new") is None
    records.records["new"] = record("new", ["read"])  # created elsewhere: usable here at once
    assert keys.get_key("new") is not None
    assert records.reads == 2


def test_forget_makes_the_next_use_read_again(clock: list[float]) -> None:
    records = CountedRecords()
    records.records["a"] = record("a", ["read"])
    keys = remembered(records, 60, clock)
    keys.get_key("a")
    del records.records["a"]
    keys.forget("a")
    assert keys.get_key("a") is None
    assert records.reads == 2


def test_a_read_overlapping_a_forget_is_not_kept(clock: list[float]) -> None:
    records = CountedRecords()
    records.records["a"] = record("a", ["read"])
    keys = remembered(records, 60, clock)
    records.during_read = lambda: keys.forget("a")  # the key changes here while its old record is read
    assert keys.get_key("a") is not None
    records.during_read = None
    keys.get_key("a")
    assert records.reads == 2  # what the overlapping read returned was not reused


class FakeHandlers:
    """The meta handler's key calls, against CountedRecords; ``during_call`` runs inside each."""

    def __init__(self, records: CountedRecords) -> None:
        self.records = records
        self.during_call: Any = None

    def call(self, c: Any) -> Any:
        if self.during_call is not None:
            self.during_call()
        if isinstance(c, UpdateApiKey):
            self.records.records[c.key_id] = record(c.key_id, list(c.permissions or ()))
            return KeyRecordJson(self.records.records[c.key_id].to_json())
        assert isinstance(c, DeleteApiKey)
        if self.records.records.pop(c.key_id, None) is None:
            raise NotFound("no such key")
        return None


def test_a_record_read_while_this_process_changes_the_key_is_not_reused(clock: list[float]) -> None:
    records = CountedRecords()
    records.records["a"] = record("a", ["read", "write"])
    keys = remembered(records, 60, clock)
    handlers = FakeHandlers(records)
    service = KeyService(handlers, keys.forget)  # type: ignore[arg-type]
    handlers.during_call = lambda: keys.get_key("a")  # a request reads the old record mid-change
    service.update("a", {"permissions": ["read"]})
    assert keys.get_key("a").permissions == ("read",)  # type: ignore[union-attr]


def test_a_failed_change_still_forgets_the_record(clock: list[float]) -> None:
    records = CountedRecords()
    records.records["a"] = record("a", ["read"])
    keys = remembered(records, 60, clock)
    service = KeyService(FakeHandlers(records), keys.forget)  # type: ignore[arg-type]
    keys.get_key("a")
    records.records.clear()  # deleted by another process meanwhile: this delete finds nothing
    with pytest.raises(NotFound):
        service.delete("a")
    assert keys.get_key("a") is None


def test_expiry_is_checked_on_every_use_of_a_reused_record(clock: list[float]) -> None:
    now = datetime.now(UTC)
    expired, secret = new_key({"name": "k", "permissions": ["read"], "expires_in": "1h"}, now - timedelta(hours=2))
    records = CountedRecords()
    records.records[expired.id] = expired
    sessions = SessionTokens(b"s" * 32, 3600)
    auth = Authenticator(None, sessions, remembered(records, 60, clock), dev_mode=False)
    claims = SessionClaims("k", frozenset({"read"}), expired.id, None, False)
    token, _ = sessions.issue(claims, now)  # a session whose key has expired since
    for credential in (secret, token, secret, token):
        with pytest.raises(Unauthorized):
            auth.authenticate(f"Bearer {credential}")
    assert records.reads == 1  # refused from the reused record too


# -- through the routes: two apps on one store ----------------------------------------


def test_a_change_made_elsewhere_is_honoured_here_until_the_window_ends(configure: Any) -> None:
    here: Api = configure(apikey_revalidate_seconds=300)
    elsewhere: Api = configure()
    key = here.create_key(["read", "write"])
    secret, session = key["secret"], here.login(key["secret"])
    for credential in (secret, session):
        assert here.put("/entity/db", {"k": 1}, token=credential).status == 200
    assert elsewhere.delete(f"/api/keys/{key['id']}").status in (200, 204)
    assert elsewhere.put("/entity/db", {"k": 2}, token=secret).status == 401  # that instance reads every time
    for credential in (secret, session):  # the documented price of the window
        assert here.put("/entity/db", {"k": 3}, token=credential).status == 200


@pytest.mark.parametrize("change", ["disable", "permissions", "delete"])
def test_a_change_made_here_applies_here_at_once(configure: Any, change: str) -> None:
    here: Api = configure(apikey_revalidate_seconds=300)
    key = here.create_key(["read", "write"])
    secret, session = key["secret"], here.login(key["secret"])
    for credential in (secret, session):
        assert here.put("/entity/db", {"k": 1}, token=credential).status == 200
    path = f"/api/keys/{key['id']}"
    if change == "disable":
        assert here.request("PATCH", path, {"enabled": False}).status == 200
        refused = 401
    elif change == "permissions":
        assert here.request("PATCH", path, {"permissions": ["read"]}).status == 200
        refused = 403
    else:
        assert here.delete(path).status in (200, 204)
        refused = 401
    for credential in (secret, session):
        assert here.put("/entity/db", {"k": 2}, token=credential).status == refused


def test_without_the_setting_a_change_elsewhere_applies_everywhere_at_once(configure: Any) -> None:
    here: Api = configure()
    elsewhere: Api = configure()
    key = here.create_key(["read", "write"])
    session = here.login(key["secret"])
    assert here.put("/entity/db", {"k": 1}, token=session).status == 200
    assert elsewhere.request("PATCH", f"/api/keys/{key['id']}", {"enabled": False}).status == 200
    assert here.put("/entity/db", {"k": 2}, token=session).status == 401
