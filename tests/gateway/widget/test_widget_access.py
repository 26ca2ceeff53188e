"""The widget for everyone and everywhere, in headless Chromium (Debian's): keyboard only,
axe-core (0 serious or critical) on every screen, a phone's 390x844 screen, and the
one-tag embed in a Shadow DOM on a page of another origin (allowed by ALLOWED_ORIGINS;
an origin not listed gets neither sign-in nor a socket)."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin

from tests.gateway.conftest import ServerThread
from tests.gateway.widget.conftest import DroppableProxy, StaticSite
from tests.gateway.widget.helpers import WAIT, as_guest, axe_counts, say, shot, sign_in

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}


def focused(page: Page) -> str:
    """The focused element's id or text, looking into shadow roots."""
    return str(
        page.evaluate(
            """() => { let el = document.activeElement;
                 while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
                 return el ? (el.id || el.getAttribute('aria-label') || el.textContent.trim()) : ''; }"""
        )
    )


def tab_to(page: Page, name: str, limit: int = 40) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if focused(page) == name:
            return
    raise AssertionError(f"{name!r} is not reachable with Tab (stuck at {focused(page)!r})")


def test_keyboard_only_sign_in_chat_quick_reply_end_and_rate(
    browser: Browser, widget_gateway: ServerThread
) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{widget_gateway.url}/")
    tab_to(page, "username")
    page.keyboard.type("demo001")
    page.keyboard.press("Tab")
    page.keyboard.type("demo-password")
    page.keyboard.press("Enter")
    expect(page.locator("#message-input")).to_be_focused(timeout=WAIT)
    page.keyboard.type("choose")
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Yes", exact=True)).to_be_visible(timeout=WAIT)
    tab_to(page, "Yes")
    page.keyboard.press("Enter")
    expect(page.locator("#message-input")).to_be_focused()
    expect(page.locator("#chat-log .msg.user").last).to_have_text("Yes", timeout=WAIT)
    tab_to(page, "Helpful")  # feedback on a reply, by keyboard
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Helpful").first).to_have_attribute(
        "aria-pressed", "true"
    )

    tab_to(page, "logout-button")
    page.keyboard.press("Enter")
    expect(page.locator("#end-dialog")).to_be_visible()
    expect(page.locator("#end-cancel")).to_be_focused()
    page.keyboard.press("Escape")  # closes the dialog, nothing ends
    expect(page.locator("#end-dialog")).to_be_hidden()
    tab_to(page, "logout-button")
    page.keyboard.press("Enter")
    page.keyboard.press("Shift+Tab")
    expect(page.locator("#end-confirm")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="1 of 5")).to_be_focused()
    for _ in range(2):
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # 3 of 5
    expect(page.get_by_role("button", name="3 of 5")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#rating-done")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#username")).to_be_focused()


def test_axe_finds_nothing_serious_on_any_screen_desktop_and_phone(
    browser: Browser, widget_gateway: ServerThread, proxy: DroppableProxy
) -> None:
    counts: dict[str, dict[str, int]] = {}
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = browser.new_context(bypass_csp=True, viewport=viewport).new_page()
        page.goto(f"{proxy.url}/")
        counts[f"{label}-sign-in"] = axe_counts(page, f"{label}-sign-in")
        shot(page, f"{label}-sign-in")
        sign_in(page)
        say(page, "markdown", replies_before=0)
        say(page, "choose")
        say(page, "handoff please")
        counts[f"{label}-chat"] = axe_counts(page, f"{label}-chat")
        shot(page, f"{label}-chat")
        proxy.drop()
        expect(page.locator("#status")).to_have_attribute(
            "data-connection", "offline", timeout=WAIT
        )
        page.fill("#message-input", "sent later")
        page.press("#message-input", "Enter")
        counts[f"{label}-offline"] = axe_counts(page, f"{label}-offline")
        shot(page, f"{label}-offline")
        proxy.resume()
        expect(page.locator("#chat-log .entry.is-pending")).to_have_count(0, timeout=WAIT)
        page.click("#logout-button")
        counts[f"{label}-end-dialog"] = axe_counts(page, f"{label}-end-dialog")
        page.click("#end-confirm")
        counts[f"{label}-rating"] = axe_counts(page, f"{label}-rating")
        shot(page, f"{label}-rating")
    print("axe-core violations by impact:", counts)
    bad = {screen: c for screen, c in counts.items() if c["serious"] or c["critical"]}
    assert not bad, f"serious/critical axe violations (details in var/screens/*.axe.json): {bad}"


def test_on_a_phone_the_chat_uses_the_whole_screen(
    browser: Browser, widget_gateway: ServerThread
) -> None:
    page = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    page.goto(f"{widget_gateway.url}/")
    as_guest(page)
    say(page, "markdown")
    widget = page.locator(".widget").bounding_box()
    log = page.locator("#chat-log").bounding_box()
    composer = page.locator("#send-form").bounding_box()
    assert widget and log and composer
    assert widget["x"] == 0 and widget["width"] == PHONE["width"]
    assert widget["height"] >= PHONE["height"] - 1
    assert log["height"] > PHONE["height"] / 2  # the conversation gets the room
    assert composer["y"] + composer["height"] <= PHONE["height"]  # input on screen
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "phone-chat-guest")


def embedded(page: Page) -> None:
    page.get_by_role("button", name="Chat with us").click()
    expect(page.locator("#bank-widget-panel")).to_be_visible()


def test_one_script_tag_embeds_the_widget_on_another_origin(
    browser: Browser, widget_gateway: ServerThread, demo_site: StaticSite
) -> None:
    url = demo_site.page("shop.html", widget_gateway.url)
    page = browser.new_context(bypass_csp=True).new_page()
    page.goto(url)
    host = page.locator("#bank-widget-host")
    assert host.evaluate("h => h.shadowRoot !== null && h.shadowRoot.mode === 'open'")
    # The form lives in the shadow root, not in the shop's document.
    assert page.evaluate("() => document.querySelectorAll('#username').length") == 0
    embedded(page)
    expect(page.locator("#login-panel .intro")).to_contain_text("Hello!")
    sign_in(page)  # /auth/token across origins (CORS for ALLOWED_ORIGINS)
    say(page, "markdown", replies_before=0)
    expect(page.locator("#chat-log .msg.bot").last.locator("a")).to_have_attribute(
        "href", "https://bank.example/help"
    )
    # The shop's own styles stay out of the widget.
    assert page.locator("#chat-log").evaluate("e => getComputedStyle(e).fontFamily") != "serif"
    counts = axe_counts(page, "embed-desktop")
    shot(page, "embed-desktop")
    print("axe-core violations by impact (embed):", counts)
    assert counts["serious"] == counts["critical"] == 0, counts

    page.reload()  # keeps the panel open and the conversation
    expect(page.locator("#chat-log .msg.user")).to_have_text(["markdown"], timeout=WAIT)

    phone = browser.new_context(viewport=PHONE, bypass_csp=True).new_page()
    phone.goto(url)
    embedded(phone)
    panel = phone.locator("#bank-widget-panel").bounding_box()
    assert panel and panel["width"] == PHONE["width"] and panel["height"] >= PHONE["height"] - 1
    phone_counts = axe_counts(phone, "embed-phone")
    shot(phone, "embed-phone")
    assert phone_counts["serious"] == phone_counts["critical"] == 0, phone_counts


def test_an_origin_not_configured_gets_neither_sign_in_nor_a_socket(
    browser: Browser, widget_gateway: ServerThread, foreign_site: StaticSite, demo_site: StaticSite
) -> None:
    page = browser.new_context().new_page()
    page.goto(foreign_site.page("elsewhere.html", widget_gateway.url))
    embedded(page)
    page.fill("#username", "demo001")
    page.fill("#password", "demo-password")
    page.click("#login-button")
    expect(page.locator("#login-error")).to_have_text(
        "Cannot reach the bank's chat service.", timeout=WAIT
    )
    page.click("#guest-button")
    expect(page.locator("#status")).to_have_attribute("data-connection", "offline", timeout=WAIT)

    preflight = {"Access-Control-Request-Method": "POST"}
    with httpx.Client(base_url=widget_gateway.url) as http:
        ok = http.options("/auth/token", headers={"Origin": demo_site.origin, **preflight})
        assert ok.headers.get("access-control-allow-origin") == demo_site.origin
        refused = http.options("/auth/token", headers={"Origin": foreign_site.origin, **preflight})
        assert "access-control-allow-origin" not in refused.headers
    ws = widget_gateway.ws_url
    with (
        pytest.raises(InvalidStatus) as refused_ws,
        connect(ws, origin=Origin(foreign_site.origin)),
    ):
        pass
    assert refused_ws.value.response.status_code == 403
    with connect(ws, origin=Origin(demo_site.origin)) as allowed:
        allowed.send('{"type": "ping"}')  # (before hello: refused by the protocol, not the origin)
        assert "unauthorized" in str(allowed.recv(timeout=5))
