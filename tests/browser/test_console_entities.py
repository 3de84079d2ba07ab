"""The web console in a real browser: databases, their keys and entities (create, edit,
validate, delete, paging, a change made meanwhile, a 403).

How these tests run: tests/browser/console_setup.py.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from tests.browser.console_setup import api_key, signed_in
from tests.e2e.servers import ADMIN_KEY, ServerProcess

pytestmark = pytest.mark.timeout(60)


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
