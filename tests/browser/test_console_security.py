"""The web console in a real browser: the page's own security (stored markup shown as text,
never run; the strict CSP, and the watch that every test makes on it).

How these tests run: tests/browser/console_setup.py.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Watched
from tests.browser.console_page import Console
from tests.browser.console_setup import api_key, signed_in
from tests.e2e.http_client import q
from tests.e2e.servers import ADMIN_KEY, ServerProcess

pytestmark = pytest.mark.timeout(60)
XSS = "<img src=x onerror=alert(1)>"


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
