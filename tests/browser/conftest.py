"""Browser tests: Debian's Chromium driven by Python Playwright against the local stack as `make run` starts it.

Never `playwright install`: the browser is the system's (`apt-get install -y chromium`). Without it the
tests are skipped on a developer's machine and fail in CI (CI=true).
"""
from __future__ import annotations

import os

import pytest

from tests.e2e.conftest import local_stack, token  # noqa: F401 - the same stack and agent tokens as e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs Chromium at {CHROMIUM} (apt-get install -y chromium)")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


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
    context = browser.new_context()
    watched = Watched(context.new_page())
    yield watched
    context.close()
