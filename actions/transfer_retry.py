"""A transfer refused for insufficient funds, tried again from another account.

After "There isn't enough money in your checking account", the customer says "ok take
it from savings then". That message starts the transfer again (intent
`transfer_money`), whose task reset would forget the recipient and the amount: this
module finds them in the conversation so that the new transfer keeps both, pays from
the account now named, and checks the amount against it (the transfer form reads the
amount from `transfer_refused_amount` when another account to pay from is named).
"""

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet

from actions.entities import entities, entity_value

# What core_banking's refusal of a transfer for money said (actions/transfers.py).
REFUSED_FOR_FUNDS = frozenset({"utter_insufficient_funds"})
# Entities that name a new recipient or amount: then it is a new transfer, not a retry.
NEW_TRANSFER_ENTITIES = ("iban", "invalid_iban", "person", "amount", "amount_ambiguous")


def retry_of_refused_transfer(tracker: Tracker) -> list[dict[str, Any]]:
    """The slots that restore the refused transfer's recipient and amount, when the
    latest message only names another account to pay from; else nothing."""
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    if intent != "transfer_money" or entity_value(tracker, "account_type", "from") is None:
        return []
    if entity_value(tracker, "account_type", "to") or any(
        entities(tracker, name) for name in NEW_TRANSFER_ENTITIES
    ):
        return []
    if _last_bot_response(tracker) not in REFUSED_FOR_FUNDS:
        return []
    destination = _last_value(tracker, "transfer_destination")
    amount = _last_value(tracker, "transfer_amount")
    if not isinstance(destination, dict) or not amount:
        return []
    return [
        SlotSet("transfer_destination", destination),
        SlotSet("transfer_refused_amount", str(amount)),
    ]


def _last_bot_response(tracker: Tracker) -> str | None:
    """The response the bot last said before the latest user message."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                return None
            seen_user = True
        elif event.get("event") == "bot" and seen_user:
            return str((event.get("metadata") or {}).get("utter_action") or "") or None
    return None


def _last_value(tracker: Tracker, slot: str) -> Any:
    """The slot's last value that was not None (set before the refusal reset it)."""
    for event in reversed(tracker.events):
        if event.get("event") == "slot" and event.get("name") == slot and event.get("value"):
            return event["value"]
    return None
