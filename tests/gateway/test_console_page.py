"""The console page in headless Chromium against a real gateway (stub Rasa, real
Redis): a supervisor signs in, searches, opens a conversation, tags it and writes a
note; the list is updated in place (the same element, not a redraw); a reload keeps
the session, an expired access token is renewed with the refresh token, and signing
out forgets it. Skipped where Chromium is not installed (``make setup`` installs it
for the end-to-end tests)."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from websockets.sync.client import connect

from gateway.auth.tokens import TokenService
from tests.gateway.conftest import ServerThread

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium not installed")
WAIT = 15_000  # ms


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
        )
        yield browser
        browser.close()


def chat(gateway: ServerThread, token: str) -> str:
    """Sync client: Playwright's sync API already runs an event loop in this thread."""
    with connect(gateway.ws_url) as ws:
        ws.send(json.dumps({"type": "hello", "token": token}))
        sid = str(json.loads(ws.recv(timeout=5))["session_id"])
        for text in ("mumble about my card", "handoff please"):
            ws.send(
                json.dumps({"type": "message", "client_msg_id": uuid.uuid4().hex, "text": text})
            )
            while json.loads(ws.recv(timeout=5)) != {"type": "typing", "state": "off"}:
                pass
    return sid


def signed_in(browser: Browser, gateway: ServerThread) -> Page:
    page = browser.new_context().new_page()
    page.goto(f"{gateway.url}/console")
    page.fill("#username", "supervisor1")
    page.fill("#password", "staff-password")
    page.click("#login-button")
    expect(page.locator("#desk")).to_be_visible(timeout=WAIT)
    return page


def test_a_supervisor_works_a_conversation_in_the_console(
    browser: Browser, gateway: ServerThread, token_service: TokenService
) -> None:
    username = f"page{uuid.uuid4().hex[:8]}"
    token = token_service.issue(
        subject=f"cust-{username}",
        username=username,
        display_name="Paige Turner",
        roles=["customer"],
    )
    sid = chat(gateway, token)
    page = signed_in(browser, gateway)
    expect(page.locator("#supervision-tab")).to_be_visible()
    expect(page.locator("#queue button", has_text=sid[:8])).to_be_visible(timeout=WAIT)

    page.fill("#customer-filter", username)
    page.click("#filter-form button[type=submit]")
    item = page.locator("#sessions li")
    expect(item).to_have_count(1, timeout=WAIT)  # the transcript writer may lag a poll
    expect(item).to_contain_text(username, timeout=WAIT)
    expect(item.locator(".flag", has_text="fallback")).to_be_visible(timeout=WAIT)
    page.click("#chips .chip[data-flag=handoff]")
    expect(item).to_have_count(1, timeout=WAIT)
    item.evaluate("li => { li.dataset.marker = 'same element' }")

    item.locator("button").click()
    expect(page.locator("#transcript .msg.user", has_text="mumble about my card")).to_be_visible(
        timeout=WAIT
    )
    expect(page.locator("#customer-line")).to_contain_text("Paige Turner")
    page.fill("#tag-text", "vip")
    page.click("#tag-form button")
    expect(page.locator("#tags .chip", has_text="vip")).to_be_visible(timeout=WAIT)
    page.fill("#note-text", "Called back about the card.")
    page.click("#note-form button")
    expect(page.locator("#notes li", has_text="supervisor1: Called back")).to_be_visible(
        timeout=WAIT
    )
    # The list picks the tag up from the live stream, in place.
    expect(item).to_contain_text("#vip", timeout=WAIT)
    assert item.evaluate("li => li.dataset.marker") == "same element"

    page.reload()  # keeps the staff session and the open conversation
    expect(page.locator("#desk")).to_be_visible(timeout=WAIT)
    expect(page.locator("#live-status")).to_have_text("● Live", timeout=WAIT)  # reconnected
    expect(page.locator("#transcript .msg.user", has_text="handoff please")).to_be_visible(
        timeout=WAIT
    )

    page.evaluate("sessionStorage.setItem('console.token', 'expired')")
    page.click("#reload-button")  # a 401: renewed with the refresh token, then retried
    expect(page.locator("#transcript .msg.user").first).to_be_visible(timeout=WAIT)
    for _ in range(150):  # (wait_for_function would eval a string: the page's CSP says no)
        if page.evaluate("() => sessionStorage.getItem('console.token')") != "expired":
            break
        page.wait_for_timeout(100)
    assert page.evaluate("() => sessionStorage.getItem('console.token')") != "expired"
    expect(page.locator("#console-error")).to_be_hidden()

    page.click("#signout-button")
    expect(page.locator("#login-panel")).to_be_visible()
    page.reload()
    expect(page.locator("#login-panel")).to_be_visible()
    expect(page.locator("#desk")).to_be_hidden()


def test_a_customer_rates_replies_and_the_chat_in_the_widget(
    browser: Browser, gateway: ServerThread, token_service: TokenService
) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{gateway.url}/")
    page.click("#guest-button")
    page.fill("#message-input", "two answers please")
    page.click("#send-button")
    replies = page.locator("#chat-log .msg.bot")
    expect(replies).to_have_count(2, timeout=WAIT)
    replies.nth(0).get_by_role("button", name="Helpful", exact=True).click()
    replies.nth(0).get_by_role("button", name="Not helpful", exact=True).click()  # changes its mind
    expect(replies.nth(0).get_by_role("button", name="Not helpful", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    page.get_by_role("button", name="4 of 5").click()
    expect(page.locator("#rating-thanks")).to_be_visible()
    sid = page.evaluate("() => sessionStorage.getItem('chat.session_id')")

    agent = token_service.issue(subject="a", username="a", display_name="A", roles=["agent"])
    with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {agent}"}) as http:
        for _ in range(150):  # written by the transcript writer: poll
            body = http.get(f"/console/api/sessions/{sid}/transcript").json()
            votes = [f for t in body["data"] for f in t["feedback"]]
            if body["rating"] and votes and votes[0]["value"] == "down":
                break
            page.wait_for_timeout(100)
    assert [(f["value"], f["seq"]) for f in votes] == [("down", 2)]
    assert body["rating"]["score"] == 4
