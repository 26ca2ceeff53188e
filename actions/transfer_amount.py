"""`action_ask_transfer_amount`: the transfer form's amount question, which asks which
amount was meant when the NLU found an ambiguous one ("1.100": 1,100.00 or 1.10?)."""

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.money import format_money, to_minor


class ActionAskTransferAmount(Action):
    def name(self) -> str:
        return "action_ask_transfer_amount"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        options = tracker.get_slot("transfer_amount_options")
        source = tracker.get_slot("transfer_source") or {}
        currency = str(source.get("currency") or tracker.get_slot("transfer_currency") or "EUR")
        try:
            thousands = format_money(to_minor(str(options["thousands"]), currency), currency)
            decimal = format_money(to_minor(str(options["decimal"]), currency), currency)
        except (KeyError, TypeError, ValueError):
            # "How much would you like to send to City Housing (rent)?": the recipient the
            # form picked ("send my landlord the rent") is said before any amount is.
            label = (tracker.get_slot("transfer_destination") or {}).get("label")
            if label:
                dispatcher.utter_message(response="utter_ask_transfer_amount_to", recipient=label)
            else:
                dispatcher.utter_message(response="utter_ask_transfer_amount")
            return []
        # The buttons send the amounts written out in full, which the NLU reads unambiguously.
        dispatcher.utter_message(
            response="utter_ask_transfer_amount_ambiguous", thousands=thousands, decimal=decimal
        )
        return []
