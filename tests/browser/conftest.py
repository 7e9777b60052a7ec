"""Browser tests: Debian's Chromium, driven by Python Playwright, against the local stack as `make run` starts it.

Fixtures for any page test: `local_stack` and `token` (the e2e ones), `browser` (one Chromium per session),
`context` (a fresh profile at the stack's address, laptop-sized), `open_page` (a page at a path, watched for
script errors and Content-Security-Policy violations) and `screenshot` (saved under build/screenshots/).
Chromium is Debian's (`apt-get install -y chromium`), never a `playwright install` download. Without it the
tests skip, except under CI=true, where they fail.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from infra.local.stage import PROJECT
from tests.e2e import conftest as e2e

local_stack, token = e2e.local_stack, e2e.token   # the e2e fixtures: the stack as `make run` starts it

CHROMIUM = "/usr/bin/chromium"
HEADLESS_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(PROJECT) / "build" / "screenshots"
LAPTOP = {"width": 1366, "height": 768}
WAIT_MS = 30_000   # the async path plus a poll or two, on a loaded machine


def _missing(reason: str):
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason}: CI must run the browser tests (.ci/run installs chromium)")
    pytest.skip(f"{reason}; install it with `apt-get install -y chromium` to run the browser tests")


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        _missing(f"Chromium is not installed at {CHROMIUM}")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _missing("Python Playwright is not installed (requirements-dev.txt)")
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=HEADLESS_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser, local_stack):
    ctx = browser.new_context(base_url=local_stack.base_url, viewport=LAPTOP)
    ctx.set_default_timeout(WAIT_MS)
    yield ctx
    ctx.close()


@pytest.fixture
def open_page(context):
    """Open a page at a path; the test fails if a script throws or the page's CSP refuses something."""
    problems: list[str] = []

    def open_at(path: str):
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"{path}: script error: {error}"))
        page.on("console", lambda msg: problems.append(f"{path}: {msg.text}")
                if msg.type == "error" and "Content Security Policy" in msg.text else None)
        page.goto(path)
        return page

    yield open_at
    assert problems == [], "the pages reported problems"


@pytest.fixture
def screenshot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path))
        return path
    return save


class Watched:
    """A page, and what went wrong in it: script errors, dialogs (an injected alert), CSP reports."""

    def __init__(self, page) -> None:
        self.page, self.errors, self.dialogs, self.console = page, [], [], []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        page.on("console", lambda msg: self.console.append(msg.text) if msg.type == "error" else None)

    def csp_violations(self) -> list[str]:
        return [c for c in self.console if "Content Security Policy" in c]


@pytest.fixture
def page(browser):
    """A bare page (no base URL) watched for script errors, dialogs and CSP reports."""
    context = browser.new_context()
    watched = Watched(context.new_page())
    yield watched
    context.close()
