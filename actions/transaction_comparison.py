"""Two periods compared ("whats my spending this month compared to last month", "october
vs november"): each period's total, then which is larger and by how much.

Callers may rely on: the periods are said in the order the customer named them; amounts
are summed within one currency (mixed currencies are said so, as the listing does); the
money out is compared unless the customer asked about money in."""

from dataclasses import replace

from rasa_sdk.executor import CollectingDispatcher

from actions.money import format_money
from actions.transaction_search import WHAT, Search, count_text, find

# (direction, larger or the same) -> the response that says the difference.
DIFFERENCE = {
    ("out", True): "utter_transactions_compared_out_more",
    ("in", True): "utter_transactions_compared_in_more",
    ("out", False): "utter_transactions_compared_out_same",
    ("in", False): "utter_transactions_compared_in_same",
}


async def say_comparison(
    dispatcher: CollectingDispatcher,
    token: str,
    search: Search,
    periods: list[dict[str, str]],
    account_type: str | None,
) -> None:
    """Raises core_banking_api.CoreBankingError as `find` does."""
    direction = search.direction or "out"
    searches = [replace(search, period=period, direction=direction) for period in periods]
    totals: list[tuple[Search, int, str]] = []
    for each in searches:
        found = await find(token, each, account_type)
        currencies = {t.currency for t in found}
        if len(currencies) > 1:
            dispatcher.utter_message(response="utter_transactions_total_currencies")
            return
        currency = currencies.pop() if currencies else "EUR"
        total = abs(sum(t.amount_minor for t in found))
        dispatcher.utter_message(
            response="utter_transactions_period_total",
            what=WHAT[direction],
            search_summary=each.summary(),
            money=format_money(total, currency),
            count_text=count_text(len(found), len(found)),
        )
        totals.append((each, total, currency))
    (first, first_total, currency), (second, second_total, other) = totals
    if currency != other:
        return
    larger, smaller = (first, second) if first_total >= second_total else (second, first)
    assert larger.period is not None and smaller.period is not None
    dispatcher.utter_message(
        response=DIFFERENCE[(direction, first_total != second_total)],
        difference=format_money(abs(first_total - second_total), currency),
        larger_from=larger.period["from"],
        larger_to=larger.period["to"],
        smaller_from=smaller.period["from"],
        smaller_to=smaller.period["to"],
    )
