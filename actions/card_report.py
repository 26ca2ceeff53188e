"""Reporting a card lost or stolen: permanent (core_banking cancels it and issues a
replacement), so the customer first sees what will happen and says yes; freezing, the
temporary alternative, is offered on the same buttons.

`action_ask_report_lost` picks the card (buttons when several could be meant), reads
lost vs stolen from the customer's words and asks for confirmation; the rule in
bot/data/cards.yml runs `action_report_lost_card` only on the yes that follows.
"""

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import core_banking_api
from actions.cards import said_card_not_found
from actions.customer import customer_from_tracker, for_customer

REPORTABLE = ("active", "frozen")
_STOLEN = re.compile(r"\b(stolen|stole|steal|theft|thief|robbed|pickpocket\w*|mugged)\b", re.I)


def reason_from_text(text: str) -> str:
    """ "stolen" when the customer's words say so, else "lost"."""
    return "stolen" if _STOLEN.search(text) else "lost"


def _reset() -> list[dict[str, Any]]:
    return [SlotSet("card_last4", None), SlotSet("card_report_reason", None)]


class ActionAskReportLost(Action):
    def name(self) -> str:
        return "action_ask_report_lost"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        found = await for_customer(dispatcher, tracker, core_banking_api.list_cards)
        if found is None:
            return _reset()
        _, cards = found
        wanted = tracker.get_slot("card_last4")
        if said_card_not_found(dispatcher, wanted, cards):
            return _reset()
        candidates = [
            c for c in cards if c.status in REPORTABLE and (not wanted or c.last4 == str(wanted))
        ]
        if not candidates:
            dispatcher.utter_message(response="utter_no_cards_to_report")
            return _reset()
        # The customer's last few messages count ("my card was stolen", then a button).
        said = [str(e.get("text") or "") for e in tracker.events if e.get("event") == "user"]
        reason = tracker.get_slot("card_report_reason") or reason_from_text(
            " ".join(said[-3:] or [str(tracker.latest_message.get("text") or "")])
        )
        if len(candidates) > 1:
            buttons = [
                {
                    "title": f"•••• {c.last4}",
                    "payload": f'/report_lost_card{{"card_last4": "{c.last4}"}}',
                }
                for c in candidates
            ]
            dispatcher.utter_message(response="utter_which_card", buttons=buttons)
            return [SlotSet("card_report_reason", reason)]
        card = candidates[0]
        dispatcher.utter_message(
            response="utter_confirm_report_lost", last4=card.last4, reason=reason
        )
        return [SlotSet("card_last4", card.last4), SlotSet("card_report_reason", reason)]


class ActionReportLostCard(Action):
    def name(self) -> str:
        return "action_report_lost_card"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        customer = customer_from_tracker(tracker)
        last4, reason = tracker.get_slot("card_last4"), tracker.get_slot("card_report_reason")
        if customer is None or not last4 or reason not in ("lost", "stolen"):
            dispatcher.utter_message(response="utter_anything_else")
            return _reset()
        try:
            cards = await core_banking_api.list_cards(customer.access_token)
            card = next(
                (c for c in cards if c.last4 == str(last4) and c.status in REPORTABLE), None
            )
            if card is None:
                dispatcher.utter_message(response="utter_no_cards_to_report")
                return _reset()
            result = await core_banking_api.report_card_lost(customer.access_token, card.id, reason)
        except core_banking_api.CoreBankingError as error:
            core_banking_api.say_failure(dispatcher, error)
            return _reset()
        dispatcher.utter_message(
            response="utter_card_reported",
            last4=card.last4,
            reason=reason,
            new_last4=result.replacement.last4,
        )
        return _reset()
