"""Support staff's view, on the whole running system: a customer asks the real bot for a
person; agent1 signs in to /console in headless Chromium, takes the conversation over,
writes to the customer, sees the customer's answer (which the bot never gets) and gives
the conversation back to the bot."""

import json
import uuid
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from websockets.sync.client import ClientConnection, connect

from scripts.stack import Stack

pytestmark = pytest.mark.e2e


def frames_until(ws: ClientConnection, done: Any) -> list[dict[str, Any]]:
    got = []
    while True:
        frame = json.loads(ws.recv(timeout=60))
        got.append(frame)
        assert frame["type"] != "error", frame
        if done(frame):
            return got


def say(ws: ClientConnection, text: str) -> list[dict[str, Any]]:
    ws.send(json.dumps({"type": "message", "client_msg_id": uuid.uuid4().hex, "text": text}))
    return frames_until(ws, lambda f: f == {"type": "typing", "state": "off"})


def take_over_in_console(browser: Browser, gateway: str, session_id: str) -> Page:
    """agent1 signs in to /console in its own browser context, opens the waiting
    session from the queue and takes it over; returns the console page."""
    page = browser.new_context().new_page()
    page.goto(f"{gateway}/console")
    page.fill("#username", "agent1")
    page.fill("#password", "staff-password")
    page.click("#login-button")
    page.locator("#queue button", has_text=session_id[:8]).click(timeout=30_000)
    expect(page.locator("#accept-button")).to_be_enabled(timeout=10_000)
    page.click("#accept-button")
    return page


def test_agent_takes_over_from_the_console(stack: Stack, browser: Browser) -> None:
    gateway = stack.urls["gateway"]
    token = httpx.post(
        f"{gateway}/auth/token", data={"username": "demo002", "password": "demo-password"}
    ).json()["access_token"]
    with connect(gateway.replace("http", "ws") + "/ws") as ws:
        ws.send(json.dumps({"type": "hello", "token": token}))
        sid = json.loads(ws.recv(timeout=10))["session_id"]
        asked = say(ws, "I want to talk to a real person")
        assert any(f["type"] == "handoff" and f["state"] == "requested" for f in asked), asked

        page = take_over_in_console(browser, gateway, sid)
        accepted = frames_until(ws, lambda f: f["type"] == "handoff")
        assert accepted[-1]["state"] == "accepted"

        expect(page.locator("#agent-text")).to_be_enabled(timeout=10_000)
        page.fill("#agent-text", "Hello, Alex here. How can I help?")
        page.click("#agent-send")
        agent = frames_until(ws, lambda f: f["type"] == "agent")[-1]
        assert (agent["agent"], agent["text"]) == (
            "Alex Agent",
            "Hello, Alex here. How can I help?",
        )

        paused = say(ws, "my card payment was declined twice")
        assert [f["type"] for f in paused] == ["ack", "typing", "typing"]  # no bot reply
        expect(page.locator("#transcript .msg.user", has_text="declined twice")).to_have_count(
            1, timeout=30_000
        )

        page.screenshot(path="var/console.png")
        page.click("#end-button")
        ended = frames_until(ws, lambda f: f["type"] == "handoff")
        assert ended[-1]["state"] == "ended"
        back = say(ws, "what's my balance?")
        assert any(f["type"] == "bot" and "EUR" in f["text"] for f in back), back


def test_customer_sees_the_colleague_join_write_and_leave_in_the_widget(
    stack: Stack, browser: Browser
) -> None:
    gateway = stack.urls["gateway"]
    customer = browser.new_context().new_page()
    customer.goto(f"{gateway}/")
    customer.fill("#username", "demo001")
    customer.fill("#password", "demo-password")
    customer.click("#login-button")
    customer.fill("#message-input", "can I speak to a human please")
    customer.click("#send-button")
    expect(customer.locator("#chat-log .msg.bot").last).to_contain_text("colleague", timeout=60_000)
    sid = customer.evaluate("sessionStorage.getItem('chat.session_id')")

    agent = take_over_in_console(browser, gateway, sid)
    notes = customer.locator("#chat-log .msg.note")
    expect(notes.last).to_have_text("A colleague has joined the chat.", timeout=30_000)

    expect(agent.locator("#agent-text")).to_be_enabled(timeout=10_000)
    agent.fill("#agent-text", "Hi, Alex here.")
    agent.click("#agent-send")
    expect(customer.locator("#chat-log .msg.agent").last).to_have_text(
        "Alex Agent: Hi, Alex here.", timeout=30_000
    )

    agent.click("#end-button")
    expect(notes.last).to_contain_text("talking to the assistant again", timeout=30_000)
