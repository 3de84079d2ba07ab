"""Browser harness: Debian's chromium driven by Playwright against a real ``deltadb serve``.

The browser is the system's (``/usr/bin/chromium``, or ``DELTADB_CHROMIUM``): Playwright's own
download cannot work here. Without it (or without the ``playwright`` package) the tests are
skipped locally and FAIL when ``DELTADB_REQUIRE_BROWSER=1`` (CI sets it), so a CI machine
that lost its browser cannot pass quietly.

Every page is watched: a JavaScript dialog (``alert`` and co.), an uncaught error, or a
Content-Security-Policy violation fails the test that caused it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.servers import ServerProcess

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 5_000  # a step that has not happened by then will not happen
# Collects CSP violations from the page itself, before any of its scripts run.
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


def _missing(message: str) -> None:
    if os.environ.get("DELTADB_REQUIRE_BROWSER") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def chromium_path() -> str | None:
    configured = os.environ.get("DELTADB_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (requirements-dev.txt)")
    executable = chromium_path()
    if executable is None:
        _missing("no chromium browser (apt-get install chromium, or set DELTADB_CHROMIUM)")
    # Chromium's sandbox refuses to run as root: CI runs as root.
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=executable, headless=True, args=args)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path_factory.mktemp("console") / "data", workers=1)
    try:
        srv.start()
        yield srv
    finally:
        srv.cleanup()


@dataclass
class Watched:
    """What a page did that no test may let pass: dialogs, uncaught errors, CSP reports."""

    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    csp_console: list[str] = field(default_factory=list)

    def csp_violations(self, page: Page) -> list[str]:
        found: list[str] = page.evaluate("window.__cspViolations || []")
        return [*found, *self.csp_console]


@pytest.fixture
def watched() -> Watched:
    return Watched()


@pytest.fixture
def page(browser: Browser, server: ServerProcess, watched: Watched) -> Iterator[Page]:
    """A fresh browser context (its own sessionStorage) on the console; checked when the test ends."""
    context = browser.new_context(base_url=server.base_url)
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(WATCH_CSP)
    pg = context.new_page()

    def on_dialog(dialog: Any) -> None:
        watched.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def on_console(msg: Any) -> None:
        if "Content Security Policy" in msg.text:
            watched.csp_console.append(msg.text)

    pg.on("dialog", on_dialog)
    pg.on("console", on_console)
    pg.on("pageerror", lambda exc: watched.errors.append(str(exc)))
    try:
        yield pg
        assert watched.dialogs == [], "a dialog opened: script ran from data"
        assert watched.errors == [], "uncaught errors in the page"
        assert watched.csp_violations(pg) == [], "Content-Security-Policy violations"
    finally:
        context.close()
