"""Reporting a card lost or stolen against a real core_banking: the confirmation names
the card and the reason read from the customer's words, only the confirmed action
cancels it (and a replacement appears), and guests are asked to log in."""

from typing import Any

import httpx
import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.card_report import ActionAskReportLost, ActionReportLostCard, reason_from_text


def cards(core_banking: Any, username: str) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {core_banking.token(username)}"}
    response = httpx.get(f"{core_banking.url}/v1/cards", headers=headers)
    response.raise_for_status()
    return list(response.json()["data"])


def slots_of(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("my card was stolen", "stolen"),
        ("someone stole my wallet", "stolen"),
        ("I was pickpocketed", "stolen"),
        ("I lost my card", "lost"),
        ("report my card", "lost"),
    ],
)
def test_reason_comes_from_the_words(text: str, reason: str) -> None:
    assert reason_from_text(text) == reason


async def test_confirmed_report_cancels_the_card_and_issues_a_replacement(
    make_tracker, use_core_banking
) -> None:
    metadata = use_core_banking.metadata("demo003")
    (card,) = [c for c in cards(use_core_banking, "demo003") if c["status"] == "active"]
    asked = make_tracker(
        text="my card was stolen, cancel it",
        intent="report_lost_card",
        metadata=metadata,
        events=[{"event": "user", "text": "my card was stolen, cancel it"}],
    )
    dispatcher = CollectingDispatcher()
    events = await ActionAskReportLost().run(dispatcher, asked, {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_confirm_report_lost"]
    assert (dispatcher.messages[0]["last4"], dispatcher.messages[0]["reason"]) == (
        card["last4"],
        "stolen",
    )
    assert slots_of(events) == {"card_last4": card["last4"], "card_report_reason": "stolen"}
    assert cards(use_core_banking, "demo003")[0]["status"] == "active"  # nothing yet

    confirmed = make_tracker(text="yes", intent="affirm", metadata=metadata, slots=slots_of(events))
    dispatcher = CollectingDispatcher()
    events = await ActionReportLostCard().run(dispatcher, confirmed, {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_card_reported"]
    after = {c["last4"]: c["status"] for c in cards(use_core_banking, "demo003")}
    assert after[card["last4"]] == "stolen"
    new_last4 = dispatcher.messages[0]["new_last4"]
    assert after[new_last4] == "active" and new_last4 != card["last4"]
    assert slots_of(events) == {"card_last4": None, "card_report_reason": None}


async def test_a_yes_without_a_pending_report_changes_nothing(
    make_tracker, dispatcher, use_core_banking
) -> None:
    before = cards(use_core_banking, "demo002")
    tracker = make_tracker(
        text="yes", intent="affirm", metadata=use_core_banking.metadata("demo002")
    )
    await ActionReportLostCard().run(dispatcher, tracker, {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_anything_else"]
    assert cards(use_core_banking, "demo002") == before


async def test_guest_is_asked_to_log_in(make_tracker, dispatcher, use_core_banking) -> None:
    tracker = make_tracker(text="report my card lost", intent="report_lost_card")
    events = await ActionAskReportLost().run(dispatcher, tracker, {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_login_required"]
    assert slots_of(events) == {"card_last4": None, "card_report_reason": None}
