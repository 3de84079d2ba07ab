"""Driving the console as a person does: by labels, roles and visible text (page object)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page


class Console:
    def __init__(self, page: Page) -> None:
        self.page = page

    def open(self) -> Console:
        self.page.goto("/")
        return self

    # -- regions -------------------------------------------------------------------
    @property
    def message(self) -> Locator:
        return self.page.locator("#message")

    @property
    def main(self) -> Locator:
        return self.page.locator("#main")

    @property
    def editor(self) -> Locator:
        return self.main.locator("textarea.json")

    @property
    def editor_error(self) -> Locator:
        return self.main.locator(".editor .error")

    def nav(self, name: str) -> Locator:
        return self.page.locator("#nav").get_by_role("button", name=name, exact=True)

    def button(self, name: str) -> Locator:
        return self.main.get_by_role("button", name=name, exact=True)

    def link(self, text: str) -> Locator:
        """A name in a list (database, key, schema): a button whose whole text is ``text``."""
        return self.main.locator("ul.list").get_by_role("button", name=text, exact=True)

    def list_items(self) -> list[str]:
        return self.main.locator("ul.list button.link").all_text_contents()

    # -- actions ---------------------------------------------------------------------
    def sign_in(self, key: str) -> None:
        self.main.get_by_label("Admin key or API key").fill(key)
        self.main.get_by_role("button", name="Sign in").click()

    def signed_in(self) -> None:
        self.page.locator("#signout").wait_for(state="visible")

    def session_token(self) -> str | None:
        token: str | None = self.page.evaluate("sessionStorage.getItem('deltadb.session')")
        return token

    def open_database(self, name: str) -> None:
        self.nav("Databases").click()
        self.main.get_by_label("Database").fill(name)
        self.button("Open").click()
        self.main.get_by_label("Key prefix").wait_for()
        assert self.main.locator("h2 q").text_content() == name

    def set_editor(self, text: str) -> None:
        self.editor.fill(text)
