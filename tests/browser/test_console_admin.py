"""The web console in a real browser: the admin sections (schemas, API keys, workers).

How these tests run: tests/browser/console_setup.py.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.console_setup import signed_in
from tests.e2e.servers import ADMIN_KEY, ServerProcess

pytestmark = pytest.mark.timeout(60)


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
