"""The web console in a real browser (chromium via Playwright) against a real ``deltadb serve``.

Each test starts from a fresh browser context and signs in through the page; the
server's state is set up and checked over HTTP, beside the browser. The ``page``
fixture fails any test whose page opened a dialog, threw, or violated the CSP.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Watched
from tests.browser.console_page import Console
from tests.e2e.http_client import q
from tests.e2e.servers import ADMIN_KEY, ServerProcess

pytestmark = pytest.mark.timeout(60)
XSS = "<img src=x onerror=alert(1)>"


def api_key(server: ServerProcess, permissions: list[str], name: str = "console-test") -> dict[str, str]:
    r = server.admin("POST", "/api/keys", {"name": name, "permissions": permissions})
    assert r.status == 201, r
    created: dict[str, str] = r.json()
    return created


def signed_in(page: Page, key: str) -> Console:
    console = Console(page).open()
    console.sign_in(key)
    console.signed_in()
    return console


# -- sign-in ---------------------------------------------------------------------------
def test_admin_key_signs_in_to_every_section_and_keeps_the_token_in_session_storage(page: Page) -> None:
    console = signed_in(page, ADMIN_KEY)
    expect(page.locator("#who")).to_contain_text("admin")
    for section in ("Databases", "Schemas", "API keys", "Workers"):
        expect(console.nav(section)).to_be_visible()
    token = console.session_token()
    assert token and token != ADMIN_KEY and token.count(".") == 2  # a session JWT, not the key itself
    assert page.evaluate("document.cookie") == ""
    assert page.evaluate("localStorage.length") == 0
    assert token not in page.url and ADMIN_KEY not in page.url
    # a reload keeps the session (this tab's sessionStorage) without asking again
    page.reload()
    console.signed_in()
    page.locator("#signout").click()
    expect(console.main.get_by_label("Admin key or API key")).to_be_visible()
    expect(console.message).to_have_text("Signed out.")
    assert console.session_token() is None
    expect(console.nav("Databases")).to_be_hidden()


def test_read_only_api_key_sees_no_admin_sections_and_no_write_controls(page: Page, server: ServerProcess) -> None:
    server.put("ro-db", {"item": {"n": 1}})
    key = api_key(server, ["read"])
    console = signed_in(page, key["secret"])
    expect(page.locator("#who")).to_contain_text("read")
    expect(console.nav("Databases")).to_be_visible()
    expect(console.nav("Schemas")).to_be_visible()
    expect(console.nav("API keys")).to_be_hidden()
    expect(console.nav("Workers")).to_be_hidden()
    console.link("ro-db").click()
    expect(console.link("item")).to_be_visible()
    expect(console.button("New entity")).to_have_count(0)
    console.link("item").click()
    expect(console.editor).to_have_value('{\n  "n": 1\n}')
    expect(console.editor).not_to_be_editable()
    expect(console.button("Save")).to_have_count(0)
    expect(console.button("Delete")).to_have_count(0)


def test_wrong_key_shows_an_error_and_stays_on_sign_in(page: Page) -> None:
    console = Console(page).open()
    console.sign_in("not-a-key-of-this-server")
    expect(console.message).to_contain_text("Sign-in failed")
    expect(console.main.get_by_label("Admin key or API key")).to_have_value("")  # the key is not kept
    expect(page.locator("#signout")).to_be_hidden()
    assert console.session_token() is None


# -- databases, keys, entities -------------------------------------------------------------
def test_entity_create_view_edit_validate_and_delete(page: Page, server: ServerProcess) -> None:
    console = signed_in(page, ADMIN_KEY)
    console.open_database("shop")
    expect(console.main.locator("li.empty")).to_have_text("No keys.")
    console.button("New entity").click()
    console.main.get_by_label("Key").fill("apple")
    console.set_editor('{"price": 12345678901234567890, "tags": ["red"]}')  # beyond a JS number's precision
    console.button("Create").click()
    expect(console.message).to_have_text("Created.")
    stored = server.get("shop", "apple")
    assert stored.status == 200
    assert b"12345678901234567890" in stored.body  # sent as typed, not rounded by JSON.parse
    assert json.loads(stored.body) == {"price": 12345678901234567890, "tags": ["red"]}

    # a parse error is shown while typing, and nothing is sent
    console.set_editor('{"price": ')
    expect(console.editor_error).to_contain_text("Invalid JSON")
    console.button("Save").click()
    assert json.loads(server.get("shop", "apple").body)["price"] == 12345678901234567890

    # the server's schema validation error is shown in the editor
    schema = {"type": "object", "required": ["price"], "properties": {"price": {"type": "integer"}}}
    assert server.admin("PUT", "/schema/shop", schema).status == 200
    try:
        console.set_editor('{"price": "free"}')
        console.button("Save").click()
        expect(console.editor_error).to_contain_text("price")
        assert json.loads(server.get("shop", "apple").body)["price"] == 12345678901234567890
        console.set_editor('{"price": 7}')
        console.button("Save").click()
        expect(console.message).to_have_text("Saved.")
        assert json.loads(server.get("shop", "apple").body) == {"price": 7}
    finally:
        server.admin("DELETE", "/schema/shop")

    # it shows up in the key list and the database list
    console.button("Back to keys").click()
    console.link("apple").click()
    expect(console.editor).to_have_value('{\n  "price": 7\n}')
    console.nav("Databases").click()
    expect(console.link("shop")).to_be_visible()
    console.link("shop").click()
    console.link("apple").click()
    console.button("Delete").click()  # asks once more (no dialog): nothing deleted yet
    assert server.get("shop", "apple").status == 200
    console.button("Really delete?").click()
    expect(console.message).to_have_text("Deleted apple.")
    assert server.get("shop", "apple").status == 404
    expect(console.main.locator("li.empty")).to_have_text("No keys.")


def test_an_edit_does_not_overwrite_a_change_made_meanwhile(page: Page, server: ServerProcess) -> None:
    server.put("race", {"k": {"v": 1}})
    console = signed_in(page, ADMIN_KEY)
    console.open_database("race")
    console.link("k").click()
    expect(console.editor).to_have_value('{\n  "v": 1\n}')
    server.put("race", {"k": {"v": 2}})  # someone else writes after the page read it
    console.set_editor('{"v": 3}')
    console.button("Save").click()
    expect(console.editor_error).to_contain_text("Changed by someone else")
    assert json.loads(server.get("race", "k").body) == {"v": 2}


def test_keys_are_paged_and_filtered_by_prefix(page: Page, server: ServerProcess) -> None:
    keys = [f"k-{i:03d}" for i in range(120)]
    assert server.put("paged", {k: {"i": i} for i, k in enumerate(keys)}).status == 200
    console = signed_in(page, ADMIN_KEY)
    console.open_database("paged")
    pager = console.main.locator(".pager .page")
    seen: list[str] = []
    for page_number, expected in ((1, 50), (2, 50), (3, 20)):
        expect(pager).to_have_text(f"Page {page_number}")
        expect(console.main.locator("ul.list button.link")).to_have_count(expected)
        seen += console.list_items()
        if page_number < 3:
            console.button("Next page").click()
    expect(console.button("Next page")).to_be_disabled()
    assert seen == keys  # every key once, in order
    console.button("Previous page").click()
    expect(pager).to_have_text("Page 2")
    assert console.list_items() == keys[50:100]

    console.main.get_by_label("Key prefix").fill("k-11")
    console.button("Filter").click()
    expect(pager).to_have_text("Page 1")
    expect(console.main.locator("ul.list button.link")).to_have_count(10)
    assert console.list_items() == [f"k-11{i}" for i in range(10)]
    expect(console.button("Next page")).to_be_disabled()


def test_stored_markup_is_shown_as_text_and_never_runs(page: Page, server: ServerProcess, watched: Watched) -> None:
    db = f"x{XSS}"
    assert server.put(db, {XSS: XSS, "obj": {"html": "<script>alert(2)</script>", XSS: 1}}).status == 200
    assert server.admin("PUT", f"/schema/{q(XSS)}", {"type": "object", "title": XSS}).status == 200
    key = api_key(server, ["read"], name=XSS)
    try:
        console = signed_in(page, ADMIN_KEY)
        console.link(db).click()
        console.link(XSS).click()
        expect(console.editor).to_have_value(json.dumps(XSS))
        expect(console.main.locator("h2 q")).to_have_text(db)
        console.button("Back to keys").click()
        console.link("obj").click()
        expect(console.editor).to_have_value(re.compile(re.escape('"<script>alert(2)</script>"')))
        console.nav("Schemas").click()
        console.link(XSS).click()
        expect(console.editor).to_have_value(re.compile(re.escape(json.dumps(XSS))))
        console.nav("API keys").click()
        expect(console.main.locator("tr", has_text=key["id"]).locator("td").first).to_have_text(XSS)
        assert page.locator("img").count() == 0  # no markup made from data
        assert page.locator("#main script").count() == 0
        assert watched.dialogs == []
    finally:
        server.admin("DELETE", f"/api/keys/{key['id']}")
        server.admin("DELETE", f"/schema/{q(XSS)}")


def test_a_403_is_a_message_and_the_page_stays_usable(page: Page, server: ServerProcess) -> None:
    """A key made read-only while its console is open tries to write: the 403 is a message."""
    server.put("perm", {"doc": {"a": 1}})
    key = api_key(server, ["read", "write"])
    console = signed_in(page, key["secret"])
    console.open_database("perm")
    console.link("doc").click()
    assert server.admin("PATCH", f"/api/keys/{key['id']}", {"permissions": ["read"]}).status == 200
    console.set_editor('{"a": 2}')
    console.button("Save").click()
    expect(console.message).to_contain_text("Not allowed: this credential lacks the 'write' permission")
    expect(console.editor).to_have_value('{"a": 2}')  # the page is still there, the edit not lost
    assert json.loads(server.get("perm", "doc").body) == {"a": 1}
    console.button("Back to keys").click()  # and still works for what the key may do
    expect(console.link("doc")).to_be_visible()
    expect(console.message).to_be_hidden()


# -- schemas, API keys, workers --------------------------------------------------------------
def test_schema_create_invalid_then_valid_view_and_delete(page: Page, server: ServerProcess) -> None:
    console = signed_in(page, ADMIN_KEY)
    console.nav("Schemas").click()
    console.button("New schema").click()
    console.main.get_by_label("Id").fill("orders")
    console.set_editor('{"type": 5}')
    console.button("Create").click()
    expect(console.editor_error).not_to_be_empty()  # the server refuses an invalid JSON Schema
    assert server.request("GET", "/schema/orders").status == 404
    console.set_editor('{"type": "object", "required": ["id"]}')
    console.button("Create").click()
    expect(console.message).to_have_text("Schema saved.")
    assert server.request("GET", "/schema/orders").json() == {"type": "object", "required": ["id"]}
    console.button("Back to schemas").click()
    console.link("orders").click()
    expect(console.editor).to_have_value('{\n  "type": "object",\n  "required": [\n    "id"\n  ]\n}')
    console.button("Delete").click()
    console.button("Really delete?").click()
    expect(console.message).to_have_text("Deleted schema orders.")
    assert server.request("GET", "/schema/orders").status == 404
    expect(console.link("orders")).to_have_count(0)


def test_api_key_created_with_its_secret_shown_once_then_disabled_enabled_and_deleted(
    page: Page, server: ServerProcess
) -> None:
    console = signed_in(page, ADMIN_KEY)
    console.nav("API keys").click()
    console.main.get_by_label("Name").fill("ci-console")
    console.main.get_by_role("checkbox", name="write").check()
    console.main.get_by_label("Expires in").fill("7d")
    console.button("Create key").click()
    secret = console.main.get_by_label("New key's secret").input_value()
    assert secret.startswith("dk_")
    me = server.request("GET", "/api/me", credential=secret)
    assert me.status == 200 and me.json()["permissions"] == ["read", "write"]
    row = console.main.locator("tr", has_text="ci-console")
    expect(row.locator("td.ok")).to_have_text("enabled")
    assert me.json()["client_id"] == "ci-console"
    (listed,) = [k for k in server.admin("GET", "/api/keys").json() if k["name"] == "ci-console"]
    assert listed["enabled"] and listed["expires_at"]
    key_id = listed["id"]
    expect(row).to_contain_text(key_id)

    row.get_by_role("button", name="Disable").click()
    expect(row.locator("td.off")).to_have_text("disabled")
    assert server.request("POST", "/api/login", {"key": secret}).status == 401
    row.get_by_role("button", name="Enable").click()
    expect(row.locator("td.ok")).to_have_text("enabled")
    assert server.request("POST", "/api/login", {"key": secret}).status == 200

    console.main.get_by_role("button", name="Done").click()
    expect(console.main.get_by_label("New key's secret")).to_have_count(0)
    assert secret not in page.content()  # shown once: gone from the page
    row.get_by_role("button", name="Delete").click()
    row.get_by_role("button", name="Really delete?").click()
    expect(row).to_have_count(0)
    assert key_id not in {k["id"] for k in server.admin("GET", "/api/keys").json()}


def test_workers_lists_what_the_server_reports(page: Page, server: ServerProcess) -> None:
    workers = server.admin("GET", "/admin/workers").json()
    assert workers
    console = signed_in(page, ADMIN_KEY)
    console.nav("Workers").click()
    rows = console.main.locator("tbody tr")
    expect(rows).to_have_count(len(workers))
    shown = rows.locator("td:first-child").all_text_contents()
    assert sorted(shown) == sorted(w["worker_id"] for w in workers)
    expect(rows.first.locator("td").nth(1)).to_have_text(workers[0]["status"])


# -- the page's own security ------------------------------------------------------------------
def test_console_responses_carry_a_strict_csp(page: Page, server: ServerProcess) -> None:
    response = page.goto("/")
    assert response is not None and response.status == 200
    headers = response.headers
    csp = headers["content-security-policy"]
    for directive in (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "img-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    ):
        assert directive in csp
    assert "unsafe" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["content-type"] == "text/html; charset=utf-8"
    expect(page.locator("#main form.signin")).to_be_visible()  # the scripts ran under that policy


def test_the_csp_watch_sees_a_violation(page: Page, watched: Watched) -> None:
    """The zero-violation check every test makes can fail: an inline script is refused and reported."""
    Console(page).open()
    page.locator("#main form.signin").wait_for()
    page.evaluate("""() => {
        const s = document.createElement("script");
        s.textContent = "window.__inlineRan = true";
        document.body.append(s);
    }""")
    page.wait_for_function("window.__cspViolations.length > 0")
    assert page.evaluate("window.__inlineRan === undefined")
    assert any("script-src" in v for v in watched.csp_violations(page))
    page.evaluate("window.__cspViolations.length = 0")  # seen: this test's own, not a failure
    watched.csp_console.clear()
