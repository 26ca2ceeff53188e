"""`action_search_transactions`: the customer's transactions filtered by what they
said: merchant or text, date range, amount range, account."""

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import core_banking
from actions.customer import customer_from_tracker
from actions.entities import entity_value
from actions.money import format_money, to_minor

MAX_LINES = 10


def _summary(q: str | None, period: dict[str, str] | None, low: str | None,
             high: str | None) -> str:  # fmt: skip
    parts = []
    if q:
        parts.append(f" at {q}")
    if period:
        parts.append(f" from {period['from']} to {period['to']}")
    if low:
        parts.append(f" over {low}")
    if high:
        parts.append(f" under {high}")
    return "".join(parts)


class ActionSearchTransactions(Action):
    def name(self) -> str:
        return "action_search_transactions"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        customer = customer_from_tracker(tracker)
        if customer is None:
            dispatcher.utter_message(response="utter_login_required")
            return []
        merchant = entity_value(tracker, "merchant")
        period = entity_value(tracker, "time_period")
        low, high = entity_value(tracker, "amount", "min"), entity_value(tracker, "amount", "max")
        account_type = entity_value(tracker, "account_type")
        try:
            accounts = await core_banking.list_accounts(customer.access_token)
            if account_type:
                accounts = [a for a in accounts if a["type"] == account_type] or accounts
            found: list[dict[str, Any]] = []
            for account in accounts:
                items = await core_banking.list_transactions(
                    customer.access_token, account["id"], q=merchant,
                    date_from=period["from"] if period else None,
                    date_to=period["to"] if period else None,
                )  # fmt: skip
                found += [{**item, "currency": item.get("currency", account["currency"])}
                          for item in items]  # fmt: skip
        except core_banking.CoreBankingError as error:
            core_banking.say_failure(dispatcher, error)
            return []
        found = [t for t in found if _within(t, low, high)]
        found.sort(key=lambda t: str(t.get("booked_at", "")), reverse=True)
        summary = _summary(merchant, period, low, high)
        if not found:
            dispatcher.utter_message(response="utter_no_transactions", search_summary=summary)
            return []
        dispatcher.utter_message(response="utter_transactions_intro", search_summary=summary)
        for item in found[:MAX_LINES]:
            dispatcher.utter_message(
                response="utter_transaction_line",
                booked_on=str(item.get("booked_at", ""))[:10],
                description=_describe(item),
                amount=format_money(int(item["amount_minor"]), item["currency"]),
            )
        currencies = {t["currency"] for t in found}
        if len(currencies) == 1:
            currency = currencies.pop()
            amounts = [int(t["amount_minor"]) for t in found]
            dispatcher.utter_message(
                response="utter_transactions_total", count_text=_count_text(len(found)),
                money_out=format_money(-sum(a for a in amounts if a < 0), currency),
                money_in=format_money(sum(a for a in amounts if a > 0), currency))
        return []


def _count_text(count: int) -> str:
    """'1 transaction', '4 transactions', '14 transactions (the latest 10 shown)'."""
    text = f"{count} transaction{'' if count == 1 else 's'}"
    return f"{text} (the latest {MAX_LINES} shown)" if count > MAX_LINES else text


def _describe(item: dict[str, Any]) -> str:
    counterparty = item.get("counterparty") or {}
    name = counterparty.get("name") if isinstance(counterparty, dict) else None
    return str(item.get("description") or item.get("reference") or name or item.get("kind", ""))


def _within(item: dict[str, Any], low: str | None, high: str | None) -> bool:
    # Customers mean the size of a payment, whatever its direction.
    size = abs(int(item["amount_minor"]))
    currency = item["currency"]
    try:
        if low is not None and size <= to_minor(low, currency):
            return False
        if high is not None and size >= to_minor(high, currency):
            return False
    except ValueError:
        return True
    return True
