"""The web console in a real browser: signing in with the admin key, a read-only API key
and a wrong key, and signing out.

How these tests run: tests/browser/console_setup.py.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.console_page import Console
from tests.browser.console_setup import api_key, signed_in
from tests.e2e.servers import ADMIN_KEY, ServerProcess

pytestmark = pytest.mark.timeout(60)


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
