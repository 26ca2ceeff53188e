"""Handoff to a human: tells the customer and signals the gateway.

The gateway turns the `custom: {"handoff": "requested"}` message into a `handoff` frame
and queues the session for the staff console.
"""

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher


class ActionRequestHandoff(Action):
    def name(self) -> str:
        return "action_request_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(response="utter_handoff_requested")
        dispatcher.utter_message(json_message={"handoff": "requested"})
        return [SlotSet("handoff_requested", True)]
