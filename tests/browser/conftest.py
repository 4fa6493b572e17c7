"""Browser tests: Debian's Chromium driven by Playwright against a live test server.

Chromium is the system's (``/usr/bin/chromium``, installed by ``scripts/test``); no
browser is ever downloaded. Every page a test opens is checked for Content Security
Policy violations and script errors; ``look(page, name)`` saves a full-page screenshot
under ``test-artifacts/screenshots/`` (kept by CI as an artefact) and runs axe-core's
accessibility rules on the page.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Playwright's synchronous API runs an event loop in this thread; Django's database
# calls from the test itself are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

CHROMIUM = os.environ.get("COSIGNATORY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        raise pytest.UsageError(
            f"{CHROMIUM} is missing: install Debian's chromium (scripts/test does)"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def site(live_server: Any, log: Any, settings: Any) -> str:
    """The live test server's address, with an initialised log and plain-HTTP cookies."""
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    return str(live_server.url)


class PageProblems:
    """What the browser reported: CSP violations, script errors, failed requests."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.messages.append(message.text)


@pytest.fixture
def page(browser: Browser, site: str) -> Iterator[Page]:
    context = browser.new_context(
        base_url=site, locale="en-GB", viewport={"width": 1280, "height": 900}
    )
    the_page = context.new_page()
    problems = PageProblems()
    the_page.on("console", problems.console)
    the_page.on("pageerror", lambda error: problems.messages.append(f"page error: {error}"))
    yield the_page
    context.close()
    assert not problems.messages, f"the browser reported: {problems.messages}"


def look(page: Page, name: str, *, accessibility: bool = True) -> Path:
    """Save a full-page screenshot as ``name.png`` and check the page with axe-core."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if accessibility:
        results = Axe().run(page)
        assert results.violations_count == 0, f"{name}: {results.generate_report()}"
    return path
