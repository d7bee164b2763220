"""Browser fixtures: Debian's Chromium driven by Playwright (sync API), one browser per module.

Playwright's own browser download cannot work on the machines this runs on, so the tests use the
``chromium`` package of Debian. Without it (or without Playwright) the tests skip with the
reason, except when ``PORTAL_REQUIRE_E2E=1`` (set by CI), where that is a failure.

Every test gets a live stack of its own (dev IdP + gunicorn portal + the session's real Redis),
since the walkthrough moves clocks, and writes full-page screenshots under
``test-artifacts/e2e/<test name>/``; the folder is printed at the end of the run.
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import shutil
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.processes import REPO_ROOT
from tests.support.stack import Stack

from .helpers import unavailable

if TYPE_CHECKING:
    from playwright.sync_api import Browser
    from playwright.sync_api import BrowserContext
    from playwright.sync_api import Page
    from playwright.sync_api import Playwright

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package `chromium`
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "e2e"
DEFAULT_TIMEOUT_MS = 15_000

_written: list[Path] = []
_call_failed = pytest.StashKey[bool]()


def test_folder(item: pytest.Item) -> Path:
    return ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "-", item.name).strip("-")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.when == "call":
        item.stash[_call_failed] = report.failed
    return report


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if importlib.util.find_spec("playwright") is None:
        unavailable("Playwright for Python is not installed")
    if not CHROMIUM.exists():
        unavailable(f"no Chromium at {CHROMIUM} (Debian package `chromium`)")
    from playwright.sync_api import expect
    from playwright.sync_api import sync_playwright

    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)
    driver = sync_playwright().start()
    try:
        yield driver
    finally:
        driver.stop()


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    from playwright.sync_api import Error

    try:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000
        )
    except Error as error:
        unavailable(f"Chromium at {CHROMIUM} does not start: {error.message.splitlines()[0]}")
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def new_context(
    browser: Browser, request: pytest.FixtureRequest
) -> Iterator[Callable[..., BrowserContext]]:
    """``new_context(**options)``: a fresh browser profile, closed when the test ends.

    When the test fails, each open tab is photographed first (``failure-N.png``).
    """
    made: list[BrowserContext] = []

    def make(**options) -> BrowserContext:
        context = browser.new_context(**options)
        made.append(context)
        return context

    yield make
    if request.node.stash.get(_call_failed, False):
        folder = test_folder(request.node)
        folder.mkdir(parents=True, exist_ok=True)
        tabs = [tab for context in made for tab in context.pages if not tab.is_closed()]
        for n, tab in enumerate(tabs, start=1):
            with contextlib.suppress(Exception):  # the picture must not hide the failure
                tab.screenshot(path=str(folder / f"failure-{n}.png"), full_page=True)
        _written.append(folder)
    for context in made:
        context.close()


@pytest.fixture
def new_page(new_context) -> Callable[..., Page]:
    """``new_page(**context_options)``: a tab in a fresh context, with the suite's timeout."""

    def make(**options) -> Page:
        tab = new_context(**options).new_page()
        tab.set_default_timeout(DEFAULT_TIMEOUT_MS)
        return tab

    return make


@pytest.fixture
def page(new_page) -> Page:
    return new_page()


@pytest.fixture
def stack(tmp_path: Path, redis_server) -> Iterator[Stack]:
    """A live dev IdP + portal for one test (tests here move clocks)."""
    live = Stack(tmp_path / "stack", redis_url=redis_server.url)
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    """This test's screenshot folder, emptied first so it shows this run only."""
    folder = test_folder(request.node)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    _written.append(folder)
    return folder


def pytest_terminal_summary(terminalreporter) -> None:
    if _written:
        terminalreporter.write_sep("-", "browser screenshots")
        terminalreporter.write_line(f"screenshots of the walkthrough: {ARTIFACTS}")
