"""`action_repeat_last_message`: "can you repeat that?" -- the bot's messages of the turn
before, sent again (text, buttons and custom payloads as they were).

Callers may rely on:
- outside a form, the messages the bot sent after the customer's previous message are
  sent again, in order; with none, `utter_nothing_said_to_repeat`;
- inside a form it sends nothing: the form asks its question again right after it
  (bot/tasks.yml `questions`), which is the repetition the customer asked for;
- a secret a reply showed once (a sealed gift-card code, actions/credentials.py) is
  repeated only as its last four characters, never revealed again.
"""

from collections.abc import Sequence
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.credentials import conceal_sealed


def previous_bot_messages(events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The `bot` events between the customer's previous message and their latest one."""
    messages: list[dict[str, Any]] = []
    latest_seen = False
    for event in reversed(events):
        if event.get("event") == "user":
            if latest_seen:
                break
            latest_seen = True
        elif event.get("event") == "bot" and latest_seen:
            messages.append(event)
    return messages[::-1]


class ActionRepeatLastMessage(Action):
    def name(self) -> str:
        return "action_repeat_last_message"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        if tracker.active_loop_name:
            return []  # the form asks its question again next
        messages = previous_bot_messages(tracker.events)
        if not messages:
            dispatcher.utter_message(response="utter_nothing_said_to_repeat")
        for message in messages:
            data = message.get("data") or {}
            dispatcher.utter_message(
                text=conceal_sealed(str(message.get("text") or "")) or None,
                buttons=data.get("buttons") or [],
                json_message=data.get("custom") or None,
            )
        return []
