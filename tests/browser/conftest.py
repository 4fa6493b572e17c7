"""Browser tests: Debian's Chromium driven by Playwright against a live test server.

Chromium is the system's (``/usr/bin/chromium``, installed by ``scripts/test``); no
browser is ever downloaded. Every page a test opens is checked for Content Security
Policy violations and script errors; ``look(page, name)`` saves a full-page screenshot
under ``test-artifacts/screenshots/`` (kept by CI as an artefact) and runs axe-core's
accessibility rules on the page.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# Playwright's synchronous API runs an event loop in this thread; Django's database
# calls from the test itself are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

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
        self.allowed: list[str] = []

    def allow(self, fragment: str) -> None:
        """Do not fail the test for messages containing ``fragment`` (an error the test
        provokes on purpose, such as a refusal's HTTP status)."""
        self.allowed.append(fragment)

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            # Which resource failed, or on which page: the text alone rarely says.
            where = message.location.get("url") or (message.page.url if message.page else "")
            self.messages.append(f"{message.text} [{where}]" if where else message.text)

    def error(self, error: Exception) -> None:
        self.messages.append(f"page error: {error}")

    def unexpected(self) -> list[str]:
        return [m for m in self.messages if not any(a in m for a in self.allowed)]


def _watched_page(browser: Browser, site: str, problems: PageProblems) -> Page:
    context = browser.new_context(
        base_url=site, locale="en-GB", viewport={"width": 1280, "height": 900}
    )
    the_page = context.new_page()
    the_page.on("console", problems.console)
    the_page.on("pageerror", problems.error)
    return the_page


@pytest.fixture
def page_problems() -> Iterator[PageProblems]:
    """Everything the test's pages reported; the test fails if any is not allowed."""
    problems = PageProblems()
    yield problems
    assert not problems.unexpected(), f"the browser reported: {problems.unexpected()}"


@pytest.fixture
def new_page(
    browser: Browser, site: str, page_problems: PageProblems
) -> Iterator[Callable[[], Page]]:
    """Opens a page in a fresh browser context (another person: no cookies shared),
    watched like ``page``."""
    contexts: list[BrowserContext] = []

    def open_page() -> Page:
        the_page = _watched_page(browser, site, page_problems)
        contexts.append(the_page.context)
        return the_page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Callable[[], Page]) -> Page:
    """A page in its own browser context; CSP violations and script errors fail the test."""
    return new_page()


_accessibility_problems: list[str] = []


@pytest.fixture(autouse=True)
def accessibility_checked() -> Iterator[None]:
    """Fails the test if any page it looked at had accessibility violations. They are
    gathered over the whole test, so one run reports every page's problems."""
    _accessibility_problems.clear()
    yield
    problems = list(_accessibility_problems)
    _accessibility_problems.clear()
    assert not problems, "axe-core found violations:\n" + "\n".join(problems)


def look(page: Page, name: str, *, accessibility: bool = True) -> Path:
    """Save a full-page screenshot as ``name.png`` and check the page with axe-core
    (violations fail the test when it ends, after its other steps have run)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if accessibility:
        results = Axe().run(page)
        if results.violations_count:
            _accessibility_problems.append(f"{name} ({page.url}): {results.generate_report()}")
    return path
