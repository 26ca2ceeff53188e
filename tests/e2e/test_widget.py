"""The customer's view: headless Chromium (Debian's package, driven by Playwright) opens
the widget, logs in as demo001, asks for the balance and reads the real numbers."""

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from scripts.stack import Stack

pytestmark = pytest.mark.e2e


def test_customer_logs_in_and_sees_balances(stack: Stack, browser: Browser, tmp_path: Path) -> None:
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
