"""`action_reset_task_slots`: forget every half-finished task before a new one starts,
so answers given to an abandoned form never leak into the next task."""

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

# Conversation-wide state that outlives a task.
_KEEP = {"handoff_requested", "session_started_metadata", "requested_slot"}


class ActionResetTaskSlots(Action):
    def name(self) -> str:
        return "action_reset_task_slots"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:  # fmt: skip
        return [SlotSet(name, None) for name in domain.get("slots", {})
                if name not in _KEEP and tracker.get_slot(name) is not None]  # fmt: skip
