"""A real headless Chromium (Debian's package) driven by Playwright, and the pages the
tests open in it: each in its own browser context (its own cookies: one agent each), with
every script error and console error collected so a test can say there were none."""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright, expect

from tests.dashboard.support import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# Playwright's own waits (a passing step ends as soon as it holds; only a failing one
# waits this long, so it is generous for a starved CI machine); each test also bounds
# its whole run.
STEP_TIMEOUT_MS = 20_000
# A 1x1 PNG, served for the avatar URLs the tests use (nothing leaves the machine).
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
SCREENSHOTS_ENV = "OFFLOAD_HUB_SCREENSHOTS"


def screenshot_path(name: str) -> Path:
    """Where a browser test saves a screenshot for the docs: ``docs/images/<name>`` when
    ``OFFLOAD_HUB_SCREENSHOTS=1`` (or the image is missing), else a temporary file, so an
    ordinary test run takes the screenshot without changing the checkout."""
    target = IMAGES / name
    if os.environ.get(SCREENSHOTS_ENV) == "1" or not target.exists():
        return target
    return Path(tempfile.gettempdir()) / f"offload-hub-{name}"


expect.set_options(timeout=STEP_TIMEOUT_MS)


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Tab:
    """One agent's browser window."""

    page: Page
    problems: list[str] = field(default_factory=list)

    def assert_no_problems(self) -> None:
        assert self.problems == [], self.problems


async def open_tab(
    browser: Browser, *, width: int = 1440, height: int = 900, bypass_csp: bool = False
) -> Tab:
    """A new window with its own cookies. ``bypass_csp`` switches the page's Content
    Security Policy off, to prove escaping alone keeps injected markup inert."""
    context = await browser.new_context(
        viewport={"width": width, "height": height}, bypass_csp=bypass_csp
    )
    context.set_default_timeout(STEP_TIMEOUT_MS)
    await context.route(
        "https://cdn.example/**",
        lambda route: route.fulfill(status=200, content_type="image/png", body=PIXEL),
    )
    page = await context.new_page()
    tab = Tab(page)

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            tab.problems.append(f"console: {message.text}")

    page.on("console", console)
    page.on("pageerror", lambda error: tab.problems.append(f"script error: {error}"))
    return tab


async def sign_in(tab: Tab, base: str, email: str, password: str = PASSWORD) -> None:
    page = tab.page
    await page.goto(base)
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    await expect(page.get_by_text("Connected")).to_be_visible()


async def go_online(tab: Tab) -> None:
    await tab.page.get_by_label("Status").select_option(label="Online")
    await expect(tab.page.get_by_text("You are online.")).to_be_visible()
