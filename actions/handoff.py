"""Handoff to a human: tells the customer and signals the gateway.

The gateway turns the `custom: {"handoff": "requested"}` message into a `handoff` frame
and queues the session for the staff console.
"""

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import gateway_client
from actions.customer import turn_claims


class ActionRequestHandoff(Action):
    def name(self) -> str:
        return "action_request_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(response="utter_handoff_requested")
        # Waiting is easier when you know for how long: the place in the queue.
        claims = turn_claims(tracker)
        position = await gateway_client.queue_position(claims.sealed) if claims else None
        if position is not None:
            dispatcher.utter_message(response="utter_handoff_queue_position", position=position)
        dispatcher.utter_message(json_message={"handoff": "requested"})
        return [SlotSet("handoff_requested", True)]
