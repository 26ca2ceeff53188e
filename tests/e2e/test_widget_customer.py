"""The widget against the whole system (trained model, action server, core_banking) in
headless Chromium (Debian's): a customer buys a gift card with the quick replies and
sees its code once; a reload brings back every line, the customer's (masked) too, with
the code concealed. A guest whom the bot asks to log in gets a button for it."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from scripts.stack import Stack

pytestmark = pytest.mark.e2e
TURN = 60_000  # ms: the real bot on two shared cores


def test_a_reload_shows_every_line_and_never_the_gift_card_code_again(
    stack: Stack, browser: Browser
) -> None:
    page = browser.new_context().new_page()
    page.goto(stack.urls["gateway"] + "/")
    page.fill("#username", "demo003")
    page.fill("#password", "demo-password")
    page.click("#login-button")
    bots = page.locator("#chat-log .msg.bot")
    page.fill("#message-input", "buy a 15 euro gift card for Maria")
    page.press("#message-input", "Enter")
    page.get_by_role("button", name="No message").click(timeout=TURN)
    expect(page.locator("#message-input")).to_be_focused()  # not stranded on the button
    page.get_by_role("button", name="Yes, buy it").click(timeout=TURN)
    receipt = bots.filter(has_text="Its code is")
    expect(receipt).to_have_count(1, timeout=TURN)
    match = re.search(r"Its code is ([0-9A-Z-]{12,})", receipt.inner_text())
    assert match, receipt.inner_text()  # shown once, live
    code = match.group(1)
    users_before = page.locator("#chat-log .msg.user").all_inner_texts()
    lines_before = page.locator("#chat-log .msg").count()
    Path("var/screens").mkdir(parents=True, exist_ok=True)
    page.screenshot(path="var/screens/e2e-gift-card-live.png")

    page.reload()
    expect(page.locator("#chat-log .msg.user")).to_have_text(users_before, timeout=TURN)
    expect(bots.filter(has_text="gift card ••••")).to_have_count(1, timeout=TURN)
    expect(page.locator("#chat-log .msg")).to_have_count(lines_before)
    assert code not in page.content()
    assert code.replace("-", "") not in page.content()
    page.screenshot(path="var/screens/e2e-gift-card-reloaded.png")


def test_a_guest_asked_to_log_in_gets_a_log_in_button(stack: Stack, browser: Browser) -> None:
    page = browser.new_context().new_page()
    page.goto(stack.urls["gateway"] + "/")
    page.click("#guest-button")
    page.fill("#message-input", "what's my balance?")
    page.press("#message-input", "Enter")
    button = page.locator("#chat-log .msg.bot").last.get_by_role("button", name="Log in")
    button.click(timeout=TURN)
    expect(page.locator("#username")).to_be_focused()
