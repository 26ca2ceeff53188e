"""The console in headless Chromium against two real gateway instances sharing Redis
(stub Rasa): updates are pushed live to a console held by the *other* instance, and
applied in place (the reader's scroll position and keyboard focus stay put); the queue
shows the wait; a supervisor's barge-in is visible to the agent and the customer;
search finds a customer by the start of the username and says when nothing matches;
the dashboard draws its charts; axe-core finds nothing serious or critical. Screens are
saved to var/screens/. Skipped where Chromium is not installed."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from websockets.sync.client import ClientConnection, connect

from gateway.auth.tokens import TokenService
from gateway.settings import Settings
from tests.axe import axe_violations, counts, serious
from tests.gateway.conftest import ServerThread, gateway_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium not installed")
WAIT = 15_000  # ms
SCREENS = Path("var/screens")


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


@pytest.fixture(scope="module")
def short_lived_gateway(make_settings: Callable[..., Settings]) -> Iterator[ServerThread]:
    """Access tokens last 3 s: the console's stream ends with each and is renewed."""
    with gateway_server(make_settings(access_token_ttl_seconds=3)) as server:
        yield server


def signed_in(browser: Browser, gateway: ServerThread, username: str) -> Page:
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(f"{gateway.url}/console")
    page.fill("#username", username)
    page.fill("#password", "staff-password")
    page.click("#login-button")
    expect(page.locator("#live-status")).to_have_text("● Live", timeout=WAIT)
    return page


def say(ws: ClientConnection, text: str) -> list[dict[str, Any]]:
    ws.send(json.dumps({"type": "message", "client_msg_id": uuid.uuid4().hex, "text": text}))
    got = []
    while (frame := json.loads(ws.recv(timeout=10))) != {"type": "typing", "state": "off"}:
        assert frame["type"] != "error", frame
        got.append(frame)
    return got


def frames_until(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    return [json.loads(ws.recv(timeout=10)) for _ in range(count)]


def screen(page: Page, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)


def assert_accessible(page: Page, name: str) -> None:
    found = axe_violations(page)
    print(f"axe-core {name}: {counts(found) or 'no violations'}")
    assert serious(found) == [], serious(found)


def test_a_live_console_on_the_other_instance_keeps_the_readers_place(
    browser: Browser, gateway: ServerThread, gateway2: ServerThread, token_service: TokenService
) -> None:
    username = f"live{uuid.uuid4().hex[:6]}"
    token = token_service.issue(
        subject=f"cust-{username}", username=username, display_name="Lee Live", roles=["customer"]
    )
    agent = signed_in(browser, gateway2, "agent1")  # the console is on the second instance
    with connect(gateway.ws_url) as ws:  # the customer on the first
        ws.send(json.dumps({"type": "hello", "token": token}))
        sid = json.loads(ws.recv(timeout=5))["session_id"]
        for n in range(8):  # (10 messages per 10 s is the session's rate limit)
            say(ws, f"question number {n} about my card")
        say(ws, "handoff please")

        waiting = agent.locator("#queue li", has_text=username)
        expect(waiting).to_contain_text("waited", timeout=WAIT)
        expect(waiting).to_contain_text("Lee Live")
        waiting.locator("button").click()
        turns = agent.locator("#transcript .turn")
        expect(turns).to_have_count(9, timeout=WAIT)

        # The agent scrolls back to the first question and puts the keyboard on it.
        log = agent.locator("#transcript")
        assert log.evaluate("el => el.scrollHeight > el.clientHeight + 100")  # it scrolls
        assert log.evaluate("el => el.scrollTop") > 0  # opened at the end
        log.evaluate("el => { el.scrollTop = 0; }")
        first_label = turns.first.get_by_role("button", name="Label this turn")
        first_label.focus()
        turns.first.evaluate("el => { el.dataset.marker = 'same element'; }")

        say(ws, "still there? one more question")  # pushed live, through Redis
        expect(turns).to_have_count(10, timeout=WAIT)
        assert log.evaluate("el => el.scrollTop") == 0
        assert turns.first.evaluate("el => el.dataset.marker") == "same element"
        assert agent.evaluate("() => document.activeElement.dataset.focus") == "label"
        assert first_label.evaluate("el => el === document.activeElement")

        agent.click("#accept-button")
        assert frames_until(ws, 1)[0]["state"] == "accepted"
        expect(agent.locator("#agent-text")).to_be_enabled(timeout=WAIT)
        agent.fill("#agent-text", "Hi, Alex here.")
        agent.click("#agent-send")
        assert frames_until(ws, 1)[0]["text"] == "Hi, Alex here."
        screen(agent, "console-agent-conversation")
        assert_accessible(agent, "agent conversation")

        # A supervisor on the first instance opens it: reading is allowed, writing not
        # until they take over, visibly.
        boss = signed_in(browser, gateway, "supervisor1")
        boss.locator("#queue li", has_text=username).locator("button").click()
        barge = boss.get_by_role("button", name="Barge in: take over from Alex Agent")
        expect(barge).to_be_enabled(timeout=WAIT)
        expect(boss.locator("#agent-text")).to_be_disabled()
        barge.click()
        changed = frames_until(ws, 2)
        assert [f["type"] for f in changed] == ["handoff", "agent"]
        assert changed[1]["text"] == (
            "Sam Supervisor (supervisor) has taken over this chat from Alex Agent."
        )
        expect(agent.locator("#barge-notice")).to_contain_text(
            "Sam Supervisor took over this conversation", timeout=WAIT
        )
        expect(agent.locator("#agent-text")).to_be_disabled()
        expect(agent.locator("#transcript .msg.agent").last).to_contain_text(
            "has taken over this chat from Alex Agent", timeout=WAIT
        )
        expect(boss.locator("#agent-text")).to_be_enabled(timeout=WAIT)
        screen(agent, "console-agent-after-barge-in")
        screen(boss, "console-supervisor-barge-in")
        boss.click("#end-button")
        assert frames_until(ws, 1)[0]["state"] == "ended"
    assert sid


def test_search_by_the_start_of_a_username_and_no_results(
    browser: Browser, gateway: ServerThread, token_service: TokenService
) -> None:
    username = f"srch{uuid.uuid4().hex[:6]}"
    token = token_service.issue(
        subject=f"cust-{username}",
        username=username,
        display_name="Sasha Search",
        roles=["customer"],
    )
    with connect(gateway.ws_url) as ws:
        ws.send(json.dumps({"type": "hello", "token": token}))
        ws.recv(timeout=5)
        say(ws, "mumble something unclear")
        say(ws, "balance please")
    page = signed_in(browser, gateway, "agent1")
    page.fill("#customer-filter", username[:7])  # a prefix finds it (typing searches)
    item = page.locator("#sessions li", has_text=username)
    expect(item).to_have_count(1, timeout=WAIT)
    expect(item).to_contain_text("Sasha Search")
    page.fill("#intent-filter", "intent_balance")
    expect(item).to_have_count(1, timeout=WAIT)
    page.click("#chips .chip[data-flag=fallback]")
    expect(item.locator(".flag", has_text="fallback")).to_be_visible(timeout=WAIT)
    page.fill("#customer-filter", "sasha sea")  # part of the display name
    expect(item).to_have_count(1, timeout=WAIT)
    page.fill("#search-text", "no conversation says this")
    expect(page.locator("#sessions-count")).to_have_text(
        "No conversations match these filters.", timeout=WAIT
    )
    expect(page.locator("#sessions li")).to_have_count(0)
    screen(page, "console-search-no-results")
    assert_accessible(page, "search")


def test_dashboard_and_supervision_screens(browser: Browser, gateway: ServerThread) -> None:
    page = signed_in(browser, gateway, "supervisor1")
    page.get_by_role("button", name="Dashboard").click()
    expect(page.locator("#kpis li")).to_have_count(7, timeout=WAIT)
    for chart in ("days", "fallback", "intents", "handoffs", "feedback", "ratings"):
        canvas = page.locator(f"#chart-{chart}")
        assert canvas.evaluate("c => Boolean(window.Chart.getChart(c))"), chart
    page.wait_for_timeout(300)  # let the canvases paint before the screenshot
    screen(page, "console-dashboard")
    assert_accessible(page, "dashboard")

    page.get_by_role("button", name="Supervision").click()
    expect(page.locator("#audit tr").first).to_be_visible(timeout=WAIT)
    screen(page, "console-supervision")
    assert_accessible(page, "supervision")


def test_the_live_stream_outlives_the_access_token(
    browser: Browser, short_lived_gateway: ServerThread, token_service: TokenService
) -> None:
    page = signed_in(browser, short_lived_gateway, "agent1")
    first = page.evaluate("() => sessionStorage.getItem('console.token')")
    for _ in range(100):  # the stream ends when the token does; the page renews it
        if page.evaluate("() => sessionStorage.getItem('console.token')") != first:
            break
        page.wait_for_timeout(100)
    assert page.evaluate("() => sessionStorage.getItem('console.token')") != first
    username = f"late{uuid.uuid4().hex[:6]}"
    token = token_service.issue(
        subject=f"cust-{username}", username=username, display_name="Lat E", roles=["customer"]
    )
    with connect(short_lived_gateway.ws_url) as ws:
        ws.send(json.dumps({"type": "hello", "token": token}))
        ws.recv(timeout=5)
        say(ws, "handoff please")
    expect(page.locator("#queue li", has_text=username)).to_be_visible(timeout=WAIT)
    expect(page.locator("#live-status")).to_have_text("● Live")
    expect(page.locator("#login-panel")).to_be_hidden()
