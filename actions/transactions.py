"""`action_search_transactions` and `action_total_transactions`: the customer's
transactions filtered by what they said (transaction_search.Search: merchant, spending
category or text, direction, date range, amount range, account), listed, ranked or
summed."""

import re
from dataclasses import asdict, replace
from datetime import date
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import core_banking_api
from actions.balance import ActionCheckBalance
from actions.core_banking_api import Transaction
from actions.customer import customer_from_tracker
from actions.entities import entities, entity_value
from actions.money import format_money
from actions.transaction_comparison import say_comparison
from actions.transaction_search import WHAT, Search, count_text, find, read_search

MAX_LINES = 10  # listed when the customer names no count


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
        search = read_search(tracker)
        if search.period is None and entity_value(tracker, "time_anchor") == "payday":
            try:  # "since payday": from the latest salary credit
                payday = await _last_payday(customer.access_token)
            except core_banking_api.CoreBankingError as error:
                core_banking_api.say_failure(dispatcher, error)
                return []
            if payday is None:
                dispatcher.utter_message(response="utter_payday_not_found")
                return []
            search = replace(search, period={"from": payday, "to": date.today().isoformat()})
        remembered = [SlotSet("last_transaction_search", asdict(search))]
        account_type = entity_value(tracker, "account_type")
        # "this month compared to last month": the NLU gives both periods, in that order.
        periods = [
            e["value"] for e in entities(tracker, "time_period") if isinstance(e.get("value"), dict)
        ]
        try:
            if len(periods) == 2:
                await say_comparison(
                    dispatcher, customer.access_token, search, periods, account_type
                )
                return remembered
            found = await find(customer.access_token, search, account_type)
        except core_banking_api.CoreBankingError as error:
            core_banking_api.say_failure(dispatcher, error)
            return remembered
        what, summary = WHAT.get(search.direction, "transactions"), search.summary()
        if account_type in ("checking", "savings"):
            summary += f" in your {account_type} account"
        if not found:
            dispatcher.utter_message(
                response="utter_no_transactions", what=what, search_summary=summary
            )
            return remembered
        ranked = _RANKED.search(str(tracker.latest_message.get("text") or ""))
        if ranked:
            _say_ranked(dispatcher, found, ranked, what, summary)
            return remembered
        dispatcher.utter_message(
            response="utter_transactions_intro", what=what, search_summary=summary
        )
        shown = search.limit or MAX_LINES
        for item in found[:shown]:
            _say_line(dispatcher, item)
        _say_total(dispatcher, found, search, shown)
        return remembered


def _say_total(
    dispatcher: CollectingDispatcher, found: list[Transaction], search: Search, shown: int
) -> None:
    """How many were found, and the money out and in (summed within one currency)."""
    currencies = {t.currency for t in found}
    if len(currencies) != 1:
        return
    currency = currencies.pop()
    amounts = [t.amount_minor for t in found]
    # One direction asked for: only its sum (the other is zero by construction).
    response = {
        "out": "utter_transactions_total_out",
        "in": "utter_transactions_total_in",
    }.get(search.direction or "", "utter_transactions_total")
    dispatcher.utter_message(
        response=response,
        count_text=count_text(len(found), shown),
        money_out=format_money(-sum(a for a in amounts if a < 0), currency),
        money_in=format_money(sum(a for a in amounts if a > 0), currency),
    )


# What "that" in "how much is that in total?" can be: the last list the bot gave.
_LISTINGS = ("action_search_transactions", "action_check_balance")


def _last_listing(tracker: Tracker) -> str | None:
    for event in reversed(tracker.events):
        if event.get("event") == "action" and event.get("name") in _LISTINGS:
            return str(event["name"])
    return None


class ActionTotalTransactions(Action):
    """ "How much is that in total?": the total of the last search (refined by what this
    message names: "and in total for october?"), or, when the balances were the last
    list, the balances with their total."""

    def name(self) -> str:
        return "action_total_transactions"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        customer = customer_from_tracker(tracker)
        if customer is None:
            dispatcher.utter_message(response="utter_login_required")
            return []
        last = _last_listing(tracker)
        if last == "action_check_balance":
            return await ActionCheckBalance().run(dispatcher, tracker, domain)
        if last is None or not tracker.get_slot("last_transaction_search"):
            dispatcher.utter_message(response="utter_total_of_what")
            return []
        search = read_search(tracker, refines=True)
        account_type = entity_value(tracker, "account_type")
        try:
            found = await find(customer.access_token, search, account_type)
        except core_banking_api.CoreBankingError as error:
            core_banking_api.say_failure(dispatcher, error)
            return []
        remembered = [SlotSet("last_transaction_search", asdict(search))]
        what, summary = WHAT.get(search.direction, "transactions"), search.summary()
        if account_type in ("checking", "savings"):
            summary += f" in your {account_type} account"
        if not found:
            dispatcher.utter_message(
                response="utter_no_transactions", what=what, search_summary=summary
            )
            return remembered
        _say_sum(dispatcher, found, what, summary)
        return remembered


def _say_sum(
    dispatcher: CollectingDispatcher, found: list[Transaction], what: str, summary: str
) -> None:
    """ "Your payments at amazon come to 73.46 EUR (2 transactions)": the money out, or
    in, or both where both moved (summed within one currency, as the listing does)."""
    currencies = {t.currency for t in found}
    if len(currencies) != 1:
        dispatcher.utter_message(response="utter_transactions_total_currencies")
        return
    currency = currencies.pop()
    money_out = -sum(t.amount_minor for t in found if t.amount_minor < 0)
    money_in = sum(t.amount_minor for t in found if t.amount_minor > 0)
    response = (
        "utter_transactions_sum_in"
        if not money_out
        else "utter_transactions_sum_out"
        if not money_in
        else "utter_transactions_sum"
    )
    dispatcher.utter_message(
        response=response,
        what=what,
        search_summary=summary,
        count_text=count_text(len(found), len(found)),
        money_out=format_money(money_out, currency),
        money_in=format_money(money_in, currency),
    )


# "what was my biggest payment?", "my 3 largest purchases", "smallest transaction".
_RANKED = re.compile(
    r"\b(?P<rank>biggest|largest|highest|most expensive|smallest|lowest)\s+(?:(?P<n>\d+)\s+)?"
    r"(?P<noun>payment|transaction|purchase|expense|transfer|deposit|incoming payment|one)"
    r"(?P<plural>s)?\b",
    re.IGNORECASE,
)
_LARGEST = ("biggest", "largest", "highest", "most expensive")


def _say_ranked(
    dispatcher: CollectingDispatcher,
    found: list[Transaction],
    ranked: re.Match[str],
    what: str,
    summary: str,
) -> None:
    """The largest (or smallest) items by size, whatever their direction."""
    largest = ranked.group("rank").lower() in _LARGEST
    count = int(ranked.group("n") or (3 if ranked.group("plural") else 1))
    count = max(1, min(count, MAX_LINES))
    top = sorted(found, key=lambda t: abs(t.amount_minor), reverse=largest)[:count]
    rank = "largest" if largest else "smallest"
    label = what if count > 1 else what.removesuffix("s")
    dispatcher.utter_message(
        response="utter_transactions_ranked_intro",
        rank=f"{count} {rank}" if count > 1 else rank,
        what=label,
        search_summary=summary,
    )
    for item in top:
        _say_line(dispatcher, item)


def _say_line(dispatcher: CollectingDispatcher, item: Transaction) -> None:
    dispatcher.utter_message(
        response="utter_transaction_line",
        booked_on=item.booked_on,
        description=_describe(item),
        amount=format_money(item.amount_minor, item.currency),
    )


# Salary credits: what core_banking's text search finds them by (description or payer).
PAYDAY_TEXT = "salary"


async def _last_payday(token: str) -> str | None:
    """The booking date (YYYY-MM-DD) of the latest salary credit to any account."""
    paydays = []
    for account in await core_banking_api.list_accounts(token):
        items = await core_banking_api.list_transactions(token, account.id, q=PAYDAY_TEXT)
        paydays += [t.booked_on for t in items if t.amount_minor > 0]
    return max(paydays, default=None)


def _describe(item: Transaction) -> str:
    """The description, and who the money went to or came from unless it already says
    so ("Card payment IKEA"; "Rent · City Housing"; "Transfer via chat · Anna Schmidt")."""
    name, description = item.counterparty.name, item.description
    if name and name.lower() not in description.lower():
        return f"{description} · {name}" if description else name
    return description or item.kind
