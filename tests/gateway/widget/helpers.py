"""Shared steps of the widget's browser tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.gateway.widget.conftest import AXE, SCREENS

WAIT = 15_000  # ms


def sign_in(page: Page, username: str = "demo001") -> None:
    page.fill("#username", username)
    page.fill("#password", "demo-password")
    page.click("#login-button")
    expect(page.locator("#status")).to_have_attribute("data-connection", "online", timeout=WAIT)


def as_guest(page: Page) -> None:
    page.click("#guest-button")
    expect(page.locator("#status")).to_have_attribute("data-connection", "online", timeout=WAIT)


def say(page: Page, text: str, replies_before: int | None = None) -> None:
    """Types and sends ``text``, then waits for the bot's next reply."""
    bots = page.locator("#chat-log .msg.bot")
    count = bots.count() if replies_before is None else replies_before
    page.fill("#message-input", text)
    page.press("#message-input", "Enter")
    expect(bots).to_have_count(count + 1, timeout=WAIT)


def sent_frames(page: Page) -> list[dict[str, Any]]:
    """Every frame the page sent on any of its sockets (recorded by ``record_frames``)."""
    return list(page.evaluate("() => window.__sent || []"))


def record_frames(page: Page) -> list[dict[str, Any]]:
    """Collects the JSON frames the page sends over its WebSockets, in order."""
    frames: list[dict[str, Any]] = []
    page.on(
        "websocket",
        lambda ws: ws.on("framesent", lambda payload: frames.append(json.loads(payload))),
    )
    return frames


def axe_counts(page: Page, name: str) -> dict[str, int]:
    """Runs axe-core (vendored by ``make setup``: scripts/vendor_frontend.sh) on the page, open shadow
    roots included; returns the count of violations per impact and writes them to
    var/screens/<name>.axe.json. The page's context needs ``bypass_csp``."""
    assert AXE.exists(), f"axe-core missing at {AXE}: run make setup (scripts/vendor_frontend.sh)"
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length,
                        targets: v.nodes.map(n => n.target)}))"""
    )
    SCREENS.mkdir(parents=True, exist_ok=True)
    (SCREENS / f"{name}.axe.json").write_text(json.dumps(violations, indent=2))
    counts = {"critical": 0, "serious": 0, "moderate": 0, "minor": 0}
    for violation in violations:
        counts[violation["impact"]] += 1
    return counts


def shot(page: Page, name: str) -> Path:
    SCREENS.mkdir(parents=True, exist_ok=True)
    path = SCREENS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
