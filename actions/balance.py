"""`action_check_balance`: the customer's balances, read from core_banking: the one
account named in the question ("how much is in my savings?"), else all of them."""

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.core_banking import list_accounts
from actions.customer import for_customer
from actions.entities import entity_value
from actions.money import format_money, mask_account_number

_ACCOUNT_LABELS = {"checking": "Checking account", "savings": "Savings account"}


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
        named = entity_value(tracker, "account_type")
        if named and any(a["type"] == named for a in accounts):
            accounts = [a for a in accounts if a["type"] == named]
        dispatcher.utter_message(response="utter_balances_intro")
        for account in accounts:
            dispatcher.utter_message(
                response="utter_account_balance",
                account_label=_ACCOUNT_LABELS.get(account["type"], account["type"].title()),
                account_number_masked=mask_account_number(account["number"]),
                balance=format_money(account["balance_minor"], account["currency"]),
                available=format_money(account["available_minor"], account["currency"]),
            )
        return []
