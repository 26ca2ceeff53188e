"""Freezing and unfreezing cards against a real core_banking (demo004's one debit card):
the named card or none, a status said plainly, and a report naming a card that is not
the customer's changes nothing."""

from typing import Any

import httpx
from rasa_sdk.executor import CollectingDispatcher

from actions.card_report import ActionAskReportLost
from actions.cards import ActionFreezeCard, ActionListCards, ActionUnfreezeCard

USER = "demo004"


def cards(core_banking: Any) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {core_banking.token(USER)}"}
    response = httpx.get(f"{core_banking.url}/v1/cards", headers=headers)
    response.raise_for_status()
    return list(response.json()["data"])


def said(dispatcher: CollectingDispatcher) -> list[str]:
    return [m["response"] for m in dispatcher.messages]


async def test_a_card_named_by_digits_that_are_not_the_customers_is_never_another(
    make_tracker, use_core_banking
) -> None:
    [card] = cards(use_core_banking)
    other = "0000" if card["last4"] != "0000" else "1111"
    metadata = use_core_banking.metadata(USER)
    for action in (ActionFreezeCard(), ActionUnfreezeCard(), ActionAskReportLost()):
        tracker = make_tracker(
            text=f"the card ending {other}",
            intent="freeze_card",
            metadata=metadata,
            slots={"card_last4": other},
        )
        dispatcher = CollectingDispatcher()
        events = await action.run(dispatcher, tracker, {})
        assert said(dispatcher) == ["utter_card_not_found"]
        assert dispatcher.messages[0]["last4"] == other
        assert dispatcher.messages[0]["card_list"] == f"•••• {card['last4']}"
        assert {"event": "slot", "timestamp": None, "name": "card_last4", "value": None} in events
    assert cards(use_core_banking) == [card]  # nothing changed


async def test_freeze_then_unfreeze_the_named_card(make_tracker, use_core_banking) -> None:
    [card] = cards(use_core_banking)
    assert card["status"] == "active"
    metadata = use_core_banking.metadata(USER)
    named = {"card_last4": card["last4"]}
    dispatcher = CollectingDispatcher()
    await ActionFreezeCard().run(
        dispatcher, make_tracker(intent="freeze_card", metadata=metadata, slots=named), {}
    )
    assert cards(use_core_banking)[0]["status"] == "frozen"
    await ActionFreezeCard().run(
        dispatcher, make_tracker(intent="freeze_card", metadata=metadata), {}
    )  # again: said, not an error
    await ActionUnfreezeCard().run(
        dispatcher, make_tracker(intent="unfreeze_card", metadata=metadata, slots=named), {}
    )
    assert cards(use_core_banking)[0]["status"] == "active"
    assert said(dispatcher) == ["utter_card_frozen", "utter_card_already", "utter_card_unfrozen"]
    await ActionListCards().run(dispatcher, make_tracker(metadata=metadata), {})
    assert said(dispatcher)[-2:] == ["utter_cards_intro", "utter_card_line"]
    assert dispatcher.messages[-1]["last4"] == card["last4"]
