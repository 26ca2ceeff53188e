"""`action_nothing_to_cancel`: "cancel" when no task is in progress.

Callers may rely on:
- right after a transfer was sent (the bot's previous turn said it was done), the
  customer hears that it was sent and cannot be called back in the chat, with the way to
  undo it: for a move between their own accounts, sending it back; for anyone else, a
  colleague (a handoff button);
- otherwise `utter_nothing_to_cancel`, as before.
"""

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.money import format_money, to_minor
from actions.repeat import previous_bot_messages


def _just_sent(tracker: Tracker) -> dict[str, Any] | None:
    """The transfer the bot's previous turn reported as sent, as `last_transfer` holds it."""
    said = [
        (event.get("metadata") or {}).get("utter_action")
        for event in previous_bot_messages(tracker.events)
    ]
    last = tracker.get_slot("last_transfer")
    if "utter_transfer_done" not in said or not isinstance(last, dict):
        return None
    return last


def _amount_of(sent: dict[str, Any]) -> str | None:
    currency = str(sent.get("currency") or "EUR")
    try:
        return format_money(to_minor(str(sent["amount"]), currency), currency)
    except (KeyError, ValueError):
        return None


class ActionNothingToCancel(Action):
    def name(self) -> str:
        return "action_nothing_to_cancel"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        sent = _just_sent(tracker)
        destination = (sent or {}).get("destination") or {}
        amount = _amount_of(sent) if sent else None
        if sent is None or amount is None or not destination.get("label"):
            dispatcher.utter_message(response="utter_nothing_to_cancel")
            return []
        own = destination.get("kind") == "own"
        dispatcher.utter_message(
            response="utter_transfer_already_sent_own" if own else "utter_transfer_already_sent",
            amount=amount,
            destination_label=destination["label"],
            source_type=sent.get("source_type") or "other",
        )
        return []
