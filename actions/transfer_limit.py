"""`action_tell_transfer_limit`: "how much can I send today?". A transfer to someone else
needs both room under the daily limit (core_banking's `GET /v1/transfers/daily-limit`:
the limit and what is left of it today) and the money in the account it comes from, so
the answer gives both and the smaller of the two."""

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import core_banking_api
from actions.customer import customer_from_tracker
from actions.entities import ACCOUNT_LABELS, entity_value
from actions.money import format_money


class ActionTellTransferLimit(Action):
    def name(self) -> str:
        return "action_tell_transfer_limit"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        customer = customer_from_tracker(tracker)
        if customer is None:  # the limit is the customer's: said once they log in
            dispatcher.utter_message(response="utter_transfer_limit_guest")
            return []
        try:
            limit = await core_banking_api.daily_limit(customer.access_token)
            accounts = await core_banking_api.list_accounts(customer.access_token)
        except core_banking_api.CoreBankingError as error:
            core_banking_api.say_failure(dispatcher, error)
            return []
        # The account named ("from my savings"), else the checking account transfers
        # come from by default.
        kind = entity_value(tracker, "account_type", "from") or entity_value(
            tracker, "account_type"
        )
        account = next((a for a in accounts if a.type == (kind or "checking")), None)
        account = account or (accounts[0] if accounts else None)
        currency = account.currency if account else "EUR"
        amounts = {
            "limit": format_money(limit.limit_minor, currency),
            "remaining": format_money(limit.remaining_minor, currency),
        }
        if limit.remaining_minor <= 0:
            dispatcher.utter_message(response="utter_transfer_limit_reached", **amounts)
        elif account is None:
            dispatcher.utter_message(response="utter_transfer_limit", **amounts)
        else:
            dispatcher.utter_message(
                response="utter_transfer_limit_and_available",
                account_label=ACCOUNT_LABELS.get(account.type, account.type),
                available=format_money(account.available_minor, currency),
                can_send=format_money(
                    max(0, min(limit.remaining_minor, account.available_minor)), currency
                ),
                **amounts,
            )
        return []
