"""Shared steps of the web console's browser tests (tests/browser/test_console_*.py): an API
key made over HTTP, and a console signed in through the page (its sign-in form, as a person does).

Those tests drive chromium via Playwright against a real ``deltadb serve``. Each test starts
from a fresh browser context and signs in through the page; the server's state is set up and
checked over HTTP, beside the browser. The ``page`` fixture (tests/browser/conftest.py) fails
any test whose page opened a dialog, threw, or violated the CSP.
"""

from __future__ import annotations

from playwright.sync_api import Page

from tests.browser.console_page import Console
from tests.e2e.servers import ServerProcess


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
