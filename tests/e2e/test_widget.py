"""The customer's view: headless Chromium (Debian's package, driven by Playwright) opens
the widget, logs in as demo001, asks for the balance and reads the real numbers."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from scripts.stack import Stack

pytestmark = pytest.mark.e2e
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make setup` installs Debian's chromium package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        yield browser
        browser.close()


def test_customer_logs_in_and_sees_balances(stack: Stack, browser: Browser,
                                            tmp_path: Path) -> None:  # fmt: skip
    page = browser.new_page()
    page.goto(stack.urls["gateway"] + "/")
    page.fill("#username", "demo001")
    page.fill("#password", "demo-password")
    page.click("#login-button")
    page.fill("#message-input", "what's my balance?")
    page.click("#send-button")
    replies = page.locator("#chat-log .msg.bot")
    expect(replies.filter(has_text="5,000.00 EUR")).to_have_count(1, timeout=60_000)
    expect(page.locator("#chat-log .msg.user").first).to_have_text("what's my balance?")
    page.screenshot(path=str(Path("var") / "widget.png"))


def test_guest_is_asked_to_log_in(stack: Stack, browser: Browser) -> None:
    page = browser.new_page()
    page.goto(stack.urls["gateway"] + "/")
    page.click("#guest-button")
    page.fill("#message-input", "what's my balance?")
    page.click("#send-button")
    expect(page.locator("#chat-log .msg.bot").last).to_contain_text("log in", timeout=60_000)
