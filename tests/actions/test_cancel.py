"""`action_nothing_to_cancel` (actions/cancel.py): "cancel" with no task in progress."""

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.cancel import ActionNothingToCancel


def turn(bot_said: str, latest: str = "oops cancel that last transfer") -> list[dict[str, Any]]:
    """Rasa's events: the customer's yes, the bot's reply `bot_said`, the latest message."""
    return [
        {"event": "user", "text": "yes"},
        {"event": "bot", "text": "...", "metadata": {"utter_action": bot_said}},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": latest},
    ]


SAVINGS = {"kind": "own", "account_number": "x", "label": "your savings account"}
RENT = {"kind": "payee", "payee_id": "p", "account_number": "y", "label": "City Housing (rent)"}


def sent_to(destination: dict[str, Any]) -> dict[str, Any]:
    return {
        "destination": destination,
        "amount": "20",
        "currency": "EUR",
        "reference": None,
        "source_type": "checking",
    }


@pytest.mark.parametrize(
    ("destination", "response"),
    [(SAVINGS, "utter_transfer_already_sent_own"), (RENT, "utter_transfer_already_sent")],
)
async def test_cancel_right_after_a_transfer_says_it_was_sent_and_how_to_undo_it(
    destination: dict[str, Any], response: str, make_tracker
) -> None:
    """It said "There's nothing in progress to cancel", as if nothing had happened."""
    tracker = make_tracker(
        text="oops cancel that last transfer",
        intent="cancel",
        slots={"last_transfer": sent_to(destination)},
        events=turn("utter_transfer_done"),
    )
    dispatcher = CollectingDispatcher()
    assert await ActionNothingToCancel().run(dispatcher, tracker, {}) == []
    [message] = dispatcher.messages
    assert message["response"] == response
    assert message["amount"] == "20.00 EUR"
    assert message["destination_label"] == destination["label"]
    assert message["source_type"] == "checking"


async def test_cancel_later_or_with_nothing_sent_has_nothing_to_cancel(make_tracker) -> None:
    later = make_tracker(
        text="cancel",
        intent="cancel",
        slots={"last_transfer": sent_to(SAVINGS)},
        events=turn("utter_balances_intro"),  # another answer came after the transfer
    )
    never = make_tracker(text="cancel", intent="cancel", events=turn("utter_greet"))
    for tracker in (later, never):
        dispatcher = CollectingDispatcher()
        await ActionNothingToCancel().run(dispatcher, tracker, {})
        assert [m["response"] for m in dispatcher.messages] == ["utter_nothing_to_cancel"]
