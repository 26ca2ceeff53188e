"""The customer widget in headless Chromium (Debian's) against a real gateway and Redis
(stub Rasa): history and timestamps after a reload with a secret shown once, the outbox
across a real network cut, safe markdown, ending a chat, waiting for a colleague, the
guest's log-in button and focus after a quick reply."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Browser, expect

from gateway.auth.tokens import TokenService
from tests.gateway.conftest import ServerThread
from tests.gateway.widget.conftest import GIFT_CODE, DroppableProxy
from tests.gateway.widget.helpers import WAIT, as_guest, record_frames, say, shot, sign_in

CLOCK = re.compile(r"^\d{1,2}:\d{2}")


def test_a_reload_shows_the_whole_conversation_with_times_and_the_gift_code_once(
    browser: Browser, widget_gateway: ServerThread
) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{widget_gateway.url}/")
    expect(page.locator("#login-panel .intro")).to_contain_text("Hello!")
    sign_in(page)
    expect(page.locator("#password")).to_have_value("")  # never left in the form
    expect(page.locator("#chat-log .msg.greeting")).to_contain_text("Hello demo001!")
    say(page, "my card number is 4111 1111 1111 1111")
    say(page, "buy gift card")
    receipt = page.locator("#chat-log .msg.bot").last
    expect(receipt).to_contain_text(GIFT_CODE)  # shown once, live
    before = page.locator("#chat-log .msg").all_inner_texts()
    times = page.locator("#chat-log .entry time").all_inner_texts()
    assert all(CLOCK.match(t) for t in times), times
    shot(page, "widget-chat-live")

    page.reload()
    users = page.locator("#chat-log .msg.user")
    expect(users).to_have_count(2, timeout=WAIT)
    expect(users.first).to_contain_text("••••")  # the customer's line, as stored: masked
    expect(users.nth(1)).to_have_text("buy gift card")
    bots = page.locator("#chat-log .msg.bot")
    expect(bots).to_have_count(2, timeout=WAIT)
    expect(bots.last).to_contain_text("gift card •••• WXYZ")
    assert GIFT_CODE not in page.content()
    after = page.locator("#chat-log .msg").all_inner_texts()
    assert len(after) == len(before)
    assert page.locator("#chat-log .entry time").all_inner_texts() == times
    shot(page, "widget-chat-reloaded")


def test_messages_written_offline_wait_and_go_in_order_after_a_real_network_cut(
    browser: Browser, proxy: DroppableProxy
) -> None:
    page = browser.new_context().new_page()
    sent = record_frames(page)
    page.goto(f"{proxy.url}/")
    as_guest(page)
    say(page, "first")

    proxy.drop()
    status = page.locator("#status")
    expect(status).to_have_attribute("data-connection", "offline", timeout=WAIT)
    expect(status).to_contain_text("offline")
    for text in ("second", "third"):
        page.fill("#message-input", text)
        page.press("#message-input", "Enter")
    pending = page.locator("#chat-log .entry.is-pending")
    expect(pending).to_have_count(2)
    expect(pending.first).to_contain_text("waiting for connection")
    page.fill("#message-input", "half-written")
    shot(page, "widget-offline")

    proxy.resume()
    expect(status).to_have_attribute("data-connection", "online", timeout=WAIT)
    expect(pending).to_have_count(0, timeout=WAIT)
    expect(page.locator("#chat-log .msg.bot")).to_have_count(3, timeout=WAIT)
    assert page.locator("#chat-log .msg.user").all_inner_texts() == ["first", "second", "third"]
    assert page.locator("#chat-log .msg.bot > p").all_inner_texts() == [
        "you said: first",
        "you said: second",
        "you said: third",
    ]
    expect(page.locator("#message-input")).to_have_value("half-written")  # input kept
    texts = [f["text"] for f in sent if f["type"] == "message"]
    assert texts.index("second") < texts.index("third")
    assert len([f for f in sent if f["type"] == "hello"]) >= 2  # it did reconnect


def test_a_message_written_offline_survives_a_reload(
    browser: Browser, proxy: DroppableProxy
) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{proxy.url}/")
    as_guest(page)
    proxy.drop()
    expect(page.locator("#status")).to_have_attribute("data-connection", "offline", timeout=WAIT)
    page.fill("#message-input", "kept across a reload")
    page.press("#message-input", "Enter")
    page.fill("#message-input", "a draft")
    proxy.resume()
    page.reload()
    expect(page.locator("#message-input")).to_have_value("a draft")
    expect(
        page.locator("#chat-log .msg.bot", has_text="you said: kept across a reload")
    ).to_have_count(1, timeout=WAIT)
    expect(page.locator("#chat-log .entry.is-pending")).to_have_count(0)


def test_replies_render_safe_markdown_and_never_markup(
    browser: Browser, widget_gateway: ServerThread
) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{widget_gateway.url}/")
    as_guest(page)
    say(page, "<img src=x onerror=window.__injected=1>")
    say(page, "markdown")
    reply = page.locator("#chat-log .msg.bot").last
    expect(reply.locator("strong").first).to_have_text("what I can do")
    expect(reply.locator("ul > li")).to_have_count(2)
    link = reply.locator("a")
    expect(link).to_have_count(1)  # the javascript: one stays text
    expect(link).to_have_attribute("href", "https://bank.example/help")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(reply).to_contain_text("[this](javascript:alert(1))")
    expect(reply).to_contain_text('<img src="x" onerror="window.__injected = 1"><b>not bold</b>')
    assert page.locator("#chat-log img").count() == 0
    assert page.locator("#chat-log b").count() == 0
    expect(page.locator("#chat-log .msg.user").first).to_have_text(
        "<img src=x onerror=window.__injected=1>"
    )
    assert page.evaluate("() => window.__injected") is None
    shot(page, "widget-markdown")


def test_end_chat_confirms_asks_for_a_rating_and_clears_the_sign_in(
    browser: Browser, widget_gateway: ServerThread
) -> None:
    page = browser.new_context().new_page()
    sent = record_frames(page)
    page.goto(f"{widget_gateway.url}/")
    page.fill("#username", "demo001")
    page.fill("#password", "demo-password")
    page.click("#login-button")
    say(page, "hello", replies_before=0)

    page.click("#logout-button")
    dialog = page.locator("#end-dialog")
    expect(dialog).to_be_visible()
    page.click("#end-cancel")  # changes their mind: nothing ends
    expect(dialog).to_be_hidden()
    expect(page.locator("#message-input")).to_be_focused()
    expect(page.locator("#chat-panel")).to_be_visible()

    page.click("#logout-button")
    shot(page, "widget-end-confirm")
    page.click("#end-confirm")
    expect(page.locator("#rating-label")).to_have_text("Chat ended. How was it?")
    expect(page.get_by_role("button", name="1 of 5")).to_be_focused()
    expect(page.locator("#send-form")).to_be_hidden()
    expect(page.locator("#username")).to_have_value("")
    expect(page.locator("#password")).to_have_value("")
    assert page.evaluate("() => sessionStorage.getItem('chat.token')") is None
    page.get_by_role("button", name="4 of 5").click()
    expect(page.locator("#rating-thanks")).to_be_visible()
    shot(page, "widget-end-rating")
    expect(page.locator("#rating-done")).to_be_focused()
    page.click("#rating-done")
    expect(page.locator("#login-panel")).to_be_visible()
    expect(page.locator("#username")).to_be_focused()
    assert page.evaluate("() => Object.keys(sessionStorage)") == []
    assert {"type": "rating", "score": 4} in sent

    page.reload()  # nothing to resume
    expect(page.locator("#login-panel")).to_be_visible()
    expect(page.locator("#chat-panel")).to_be_hidden()


def test_while_waiting_for_a_colleague_the_widget_says_so(
    browser: Browser, widget_gateway: ServerThread, token_service: TokenService
) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{widget_gateway.url}/")
    as_guest(page)
    say(page, "handoff please")
    banner = page.locator("#handoff-banner")
    expect(banner).to_contain_text("Waiting for a colleague to join")
    shot(page, "widget-waiting")
    page.reload()  # the waiting state comes back with the history
    expect(banner).to_contain_text("Waiting for a colleague to join", timeout=WAIT)

    sid = page.evaluate("() => sessionStorage.getItem('chat.session_id')")
    agent = token_service.issue(
        subject="a1", username="agent1", display_name="Alex", roles=["agent"]
    )
    with httpx.Client(
        base_url=widget_gateway.url, headers={"Authorization": f"Bearer {agent}"}
    ) as http:
        assert http.post(f"/console/api/sessions/{sid}/accept").status_code == 200
    expect(page.locator("#chat-log .msg.note").last).to_have_text(
        "A colleague has joined the chat.", timeout=WAIT
    )
    expect(banner).to_be_hidden()


def test_a_request_for_a_person_that_ends_unanswered_says_so(
    browser: Browser, widget_gateway: ServerThread, token_service: TokenService
) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{widget_gateway.url}/")
    as_guest(page)
    say(page, "handoff please")
    expect(page.locator("#handoff-banner")).to_be_visible()
    sid = page.evaluate("() => sessionStorage.getItem('chat.session_id')")
    agent = token_service.issue(
        subject="a1", username="agent1", display_name="Alex", roles=["agent"]
    )
    with httpx.Client(
        base_url=widget_gateway.url, headers={"Authorization": f"Bearer {agent}"}
    ) as http:  # declined without taking it
        assert http.post(f"/console/api/sessions/{sid}/end").status_code == 200
    expect(page.locator("#chat-log .msg.note").last).to_have_text(
        "No colleague could join right now. You're talking to the assistant again.",
        timeout=WAIT,
    )
    expect(page.locator("#handoff-banner")).to_be_hidden()


def test_a_guest_asked_to_log_in_gets_a_button_and_a_quick_reply_returns_focus(
    browser: Browser, widget_gateway: ServerThread
) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{widget_gateway.url}/")
    as_guest(page)
    say(page, "choose")
    page.get_by_role("button", name="Yes", exact=True).click()
    expect(page.locator("#message-input")).to_be_focused()
    expect(page.locator("#chat-log .msg.user").last).to_have_text("Yes")
    expect(page.locator("#chat-log .msg.bot")).to_have_count(2, timeout=WAIT)
    page.reload()  # stored as its payload, shown by its title
    expect(page.locator("#chat-log .msg.user")).to_have_text(["choose", "Yes"], timeout=WAIT)

    say(page, "balance", replies_before=2)
    login = page.locator("#chat-log .msg.bot").last.get_by_role("button", name="Log in")
    expect(login).to_be_visible()
    login.click()
    expect(page.locator("#login-panel")).to_be_visible()
    expect(page.locator("#username")).to_be_focused()
    sign_in(page)
    say(page, "balance", replies_before=0)
    expect(
        page.locator("#chat-log .msg.bot").last.get_by_role("button", name="Log in")
    ).to_have_count(0)


def test_a_message_the_gateway_refuses_stays_with_a_retry_button(
    browser: Browser, widget_gateway: ServerThread
) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{widget_gateway.url}/")
    as_guest(page)
    for n in range(12):  # the session's bucket holds 10 messages per 10 s
        page.fill("#message-input", f"burst {n}")
        page.press("#message-input", "Enter")
    failed = page.locator("#chat-log .entry.is-failed")
    expect(failed.first).to_contain_text("not sent", timeout=WAIT)
    refused = failed.locator(".msg.user").all_inner_texts()
    assert refused and all(t.startswith("burst ") for t in refused)
    shot(page, "widget-not-sent")
    for _ in range(60):  # bounded; the bucket refills a message a second
        if failed.count() == 0:
            break
        failed.first.get_by_role("button", name="Retry").click()
        page.wait_for_timeout(500)
    expect(failed).to_have_count(0)
    expect(page.locator("#chat-log .entry.is-pending")).to_have_count(0, timeout=WAIT)
    shown = page.locator("#chat-log .msg.user").all_inner_texts()
    assert sorted(shown) == sorted(f"burst {n}" for n in range(12))
