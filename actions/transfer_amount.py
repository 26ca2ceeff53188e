"""`action_ask_transfer_amount`: the transfer form's amount question, which asks which
amount was meant when the NLU found an ambiguous one ("1.100": 1,100.00 or 1.10?); and
`last_payment_to`, the amount of "the usual amount"."""

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import core_banking_api
from actions.core_banking_api import Transaction
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


async def last_payment_to(token: str, name: str) -> Transaction | None:
    """The latest payment out of any of the customer's accounts to `name` (a saved
    payee's name, as the history shows it): what "the usual amount" for them is."""
    paid: list[Transaction] = []
    for account in await core_banking_api.list_accounts(token):
        found = await core_banking_api.list_transactions(token, account.id, q=name, limit=20)
        paid += [
            t
            for t in found
            if t.amount_minor < 0 and (t.counterparty.name or "").casefold() == name.casefold()
        ]
    return max(paid, key=lambda t: t.booked_at, default=None)
