"""`action_reset_task_slots`: forget every half-finished task before a new one starts,
so answers given to an abandoned form never leak into the next task."""

import hashlib
import uuid
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.transfer_retry import retry_of_refused_transfer

# Conversation-wide state that outlives a task ("now send her 30", "do the same again").
_KEEP = {
    "handoff_requested",
    "session_started_metadata",
    "requested_slot",
    "last_payee",
    "last_transfer",
}


class ActionResetTaskSlots(Action):
    def name(self) -> str:
        return "action_reset_task_slots"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        resets = [
            SlotSet(name, None)
            for name in domain.get("slots", {})
            if name not in _KEEP and tracker.get_slot(name) is not None
        ]
        # "ok take it from savings then" after a refusal for funds keeps that transfer.
        return resets + retry_of_refused_transfer(tracker)


class CancelTask:
    """A form's cancel action: say it was cancelled and forget the form's slots.

    A mixin, not an `Action` (rasa-sdk registers every `Action` subclass by name):
    concrete actions set `action_name`, `cancelled_response` and `slots`."""

    action_name: str
    cancelled_response: str
    slots: tuple[str, ...]

    def name(self) -> str:
        return self.action_name

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(response=self.cancelled_response)
        return [SlotSet(slot, None) for slot in self.slots]


# Actions that run between a message and the form that takes it as an answer.
_BEFORE_THE_FORM = frozenset({"action_listen", "action_reset_task_slots"})


def answers_the_form(tracker: Tracker) -> bool:
    """The form is judging the user's latest message as an answer (or as the request
    that starts it). False when the form resumes after a digression ("who are my
    payees?" answered by its own action first): that message was no answer, and must not
    be judged as one again. (Rasa reports the form itself as `latest_action_name` in
    both cases, so the events since the message tell them apart.)"""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return True
        name = str(event.get("name") or "")
        if (
            event.get("event") == "action"
            and name not in _BEFORE_THE_FORM
            and not name.endswith("_form")
        ):
            return False
    return True


def turn_key(tracker: Tracker, purpose: str) -> str:
    """An `Idempotency-Key` for the money-moving call made in answer to the latest user
    message: the same confirming turn gives the same key, so a retried action (Rasa
    retries, a gateway retry after a timeout) can never move money twice.

    The turn's identity is the gateway's `turn_id` (`<session_id>:<client_msg_id>`,
    in the message metadata): stable across HTTP retries, unlike Rasa's `message_id`,
    which is new for every call. Without it (a bare REST client) the message id, then
    the user turn's timestamp, stand in."""
    latest = tracker.latest_message or {}
    turn_id = (latest.get("metadata") or {}).get("turn_id")
    if isinstance(turn_id, str) and turn_id:
        return hashlib.sha256(f"{purpose}:turn:{turn_id}".encode()).hexdigest()
    message_id = latest.get("message_id")
    if not message_id:
        user_events = [e for e in tracker.events if e.get("event") == "user"]
        message_id = user_events[-1].get("timestamp") if user_events else None
    turn = str(message_id) if message_id else uuid.uuid4().hex
    return hashlib.sha256(f"{purpose}:{tracker.sender_id}:{turn}".encode()).hexdigest()
