"""`action_check_balance`: the customer's balances, read from core_banking: the one
account named in the question ("how much is in my savings?"), else all of them."""

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.core_banking_api import list_accounts
from actions.customer import for_customer
from actions.entities import entities
from actions.money import format_money, mask_account_number

_ACCOUNT_LABELS = {"checking": "Checking account", "savings": "Savings account"}
# "what's my IBAN?", "my account number": the customer's own details are shown in full
# (they are not secret to their owner and are needed to be paid); balances stay masked.
_ASKS_FOR_DETAILS = re.compile(
    r"\b(?:iban|account (?:number|details|no)|bank details|bic|swift)\b", re.IGNORECASE
)


def grouped_iban(number: str) -> str:
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


class ActionCheckBalance(Action):
    def name(self) -> str:
        return "action_check_balance"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        found = await for_customer(dispatcher, tracker, list_accounts)
        if found is None:
            return []
        _, accounts = found
        if not accounts:
            dispatcher.utter_message(response="utter_no_accounts")
            return []
        # Every account named ("in checking and savings"), else all of them.
        named = {e.get("value") for e in entities(tracker, "account_type")}
        if named and any(a.type in named for a in accounts):
            accounts = [a for a in accounts if a.type in named]
        if _ASKS_FOR_DETAILS.search(str(tracker.latest_message.get("text") or "")):
            for account in accounts:
                dispatcher.utter_message(
                    response="utter_account_details",
                    account_label=_ACCOUNT_LABELS.get(account.type, account.type.title()),
                    iban=grouped_iban(account.number),
                )
            return []
        dispatcher.utter_message(response="utter_balances_intro")
        for account in accounts:
            dispatcher.utter_message(
                response="utter_account_balance",
                account_label=_ACCOUNT_LABELS.get(account.type, account.type.title()),
                account_number_masked=mask_account_number(account.number),
                balance=format_money(account.balance_minor, account.currency),
                available=format_money(account.available_minor, account.currency),
            )
        currencies = {a.currency for a in accounts}
        if len(accounts) > 1 and len(currencies) == 1:
            # "how much do I have in total?": only summed within one currency.
            currency = currencies.pop()
            dispatcher.utter_message(
                response="utter_balances_total",
                balance=format_money(sum(a.balance_minor for a in accounts), currency),
                available=format_money(sum(a.available_minor for a in accounts), currency),
            )
        return []
