"""The browser harness itself: the home page in English and in Arabic."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import look


def test_home_page_in_english_and_arabic_right_to_left(page: Page) -> None:
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    look(page, "home-en")

    page.select_option("#site-language", "ar")
    page.get_by_role("button", name="Change").click()
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    look(page, "home-ar")

    page.goto("/")  # the choice is kept
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
