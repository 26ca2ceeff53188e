"""A support shift, on the whole running system (real bot, real databases), in Chromium.

demo002 asks the bot for a person in the chat widget. agent1 signs in to the console,
sees them waiting (and for how long), takes the conversation, and they talk; agent1
gives it back to the bot and demo002 rates the chat. agent1 labels one of the
customer's turns and adds another to the training data. supervisor1 looks at the
dashboard and the audit log, exports the conversations and the training data, and
erases demo002's conversations. Every console screen is checked with axe-core and
saved to var/screens/."""

import json
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from scripts.stack import Stack
from tests.axe import axe_violations, counts, serious

pytestmark = pytest.mark.e2e
WAIT = 60_000  # ms: the bot runs on two shared cores
SCREENS = Path("var/screens")


def screen(page: Page, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"shift-{name}.png"), full_page=True)
    found = axe_violations(page)
    print(f"axe-core {name}: {counts(found) or 'no violations'}")
    assert serious(found) == [], serious(found)


def console(browser: Browser, gateway: str, username: str) -> Page:
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(f"{gateway}/console")
    page.fill("#username", username)
    page.fill("#password", "staff-password")
    page.click("#login-button")
    expect(page.locator("#live-status")).to_have_text("● Live", timeout=WAIT)
    return page


def test_a_support_shift(stack: Stack, browser: Browser, tmp_path: Path) -> None:
    gateway = stack.urls["gateway"]

    # --- a customer asks for a person ---------------------------------------------------
    customer = browser.new_context().new_page()
    customer.goto(f"{gateway}/")
    customer.fill("#username", "demo002")
    customer.fill("#password", "demo-password")
    customer.click("#login-button")
    customer.fill("#message-input", "what's my balance?")
    customer.click("#send-button")
    expect(customer.locator("#chat-log .msg.bot").last).to_contain_text("EUR", timeout=WAIT)
    customer.fill("#message-input", "can I speak to a human please")
    customer.click("#send-button")
    expect(customer.locator("#chat-log .msg.bot").last).to_contain_text("colleague", timeout=WAIT)
    sid = customer.evaluate("() => sessionStorage.getItem('chat.session_id')")

    # --- the agent's shift begins ---------------------------------------------------------
    login = browser.new_context().new_page()
    login.goto(f"{gateway}/console")
    screen(login, "sign-in")
    agent = console(browser, gateway, "agent1")
    waiting = agent.locator("#queue li", has_text="demo002")
    expect(waiting).to_contain_text("waiting", timeout=WAIT)
    expect(waiting).to_contain_text("waited")
    screen(agent, "queue")
    waiting.locator("button").click()
    expect(agent.locator("#conversation-state")).to_have_text(
        "The customer is waiting for a person.", timeout=WAIT
    )
    agent.click("#accept-button")
    expect(customer.locator("#chat-log .msg.note").last).to_have_text(
        "A colleague has joined the chat.", timeout=WAIT
    )
    expect(agent.locator("#agent-text")).to_be_focused(timeout=WAIT)
    agent.keyboard.type("Hi, Alex here. What can I do for you?")
    agent.keyboard.press("Enter")
    expect(customer.locator("#chat-log .msg.agent").last).to_have_text(
        "Alex Agent: Hi, Alex here. What can I do for you?", timeout=WAIT
    )
    customer.fill("#message-input", "my card payment was declined twice")
    customer.click("#send-button")
    expect(agent.locator("#transcript .msg.user", has_text="declined twice")).to_be_visible(
        timeout=WAIT
    )  # pushed to the console, no reload
    agent.fill("#agent-text", "I've lifted the block; please try again.")
    agent.click("#agent-send")
    expect(customer.locator("#chat-log .msg.agent").last).to_contain_text("lifted the block")
    expect(agent.locator("#transcript .msg.agent").last).to_contain_text(
        "lifted the block", timeout=WAIT
    )
    screen(agent, "conversation")
    agent.click("#end-button")
    expect(customer.locator("#chat-log .msg.note").last).to_contain_text(
        "talking to the assistant again", timeout=WAIT
    )

    # --- the customer rates the chat; the agent sees it ---------------------------------
    customer.get_by_role("button", name="4 of 5").click()
    expect(customer.locator("#rating-thanks")).to_be_visible()
    expect(agent.locator("#customer-line")).to_contain_text("rated ★4", timeout=WAIT)

    # --- the agent teaches the bot ---------------------------------------------------------
    handoff_turn = agent.locator("#transcript .turn", has_text="speak to a human")
    handoff_turn.get_by_role("button", name="Label this turn").click()
    label = handoff_turn.locator("input[aria-label='The right intent']")
    expect(label).to_be_focused()
    label.fill("human_handoff")
    label.press("Enter")
    expect(handoff_turn).to_contain_text("in training data as human_handoff", timeout=WAIT)
    balance_turn = agent.locator("#transcript .turn", has_text="what's my balance?")
    predicted = balance_turn.locator(".msg.user .meta").inner_text().split(" · ")[1].split()[0]
    balance_turn.get_by_role("button", name="Add “what's my balance?” to training data").click()
    expect(balance_turn).to_contain_text(f"in training data as {predicted}", timeout=WAIT)
    screen(agent, "labelled")

    # --- the supervisor's look ------------------------------------------------------------
    boss = console(browser, gateway, "supervisor1")
    boss.get_by_role("button", name="Dashboard").click()
    expect(boss.locator("#kpis .kpi-value").first).not_to_have_text("0", timeout=WAIT)
    expect(boss.locator("#kpis")).to_contain_text("★ 4.0 (1)")
    for chart in ("days", "fallback", "intents", "handoffs", "feedback", "ratings"):
        assert boss.locator(f"#chart-{chart}").evaluate("c => Boolean(window.Chart.getChart(c))")
    boss.wait_for_timeout(300)  # the canvases paint
    screen(boss, "dashboard")

    boss.get_by_role("button", name="Supervision").click()
    audit = boss.locator("#audit")
    labels = audit.locator("tr", has_text=sid).filter(has_text="label")
    expect(labels).to_have_count(2, timeout=WAIT)
    expect(audit.locator("tr", has_text="transcript.view").first).to_contain_text("agent1")

    boss.get_by_role("button", name="Conversations").click()
    boss.fill("#customer-filter", "demo002")
    expect(boss.locator("#sessions li")).to_have_count(1, timeout=WAIT)
    boss.get_by_role("button", name="Supervision").click()
    expect(boss.locator("#export-filters")).to_have_text("customer=demo002")
    with boss.expect_download() as exported:
        boss.click("#export-jsonl")
    lines = [json.loads(x) for x in Path(exported.value.path()).read_text().splitlines()]
    assert any(x["user_text"] == "my card payment was declined twice" for x in lines), lines
    with boss.expect_download() as training:
        boss.click("#training-data")
    yaml = Path(training.value.path()).read_text()
    assert "intent: human_handoff" in yaml and "can I speak to a human please" in yaml, yaml
    expect(audit.locator("tr", has_text="export").first).to_be_visible(timeout=WAIT)

    boss.fill("#erase-customer", "demo002")
    boss.click("#erase-form button[type=submit]")
    expect(boss.locator("#erase-question")).to_contain_text("demo002")
    screen(boss, "supervision")
    boss.click("#erase-yes")
    expect(boss.locator("#erase-result")).to_contain_text(
        "conversation(s) of demo002.", timeout=WAIT
    )
    expect(audit.locator("tr", has_text="erasure").first).to_be_visible(timeout=WAIT)
    boss.get_by_role("button", name="Conversations").click()
    expect(boss.locator("#sessions-count")).to_have_text(
        "No conversations match these filters.", timeout=WAIT
    )
