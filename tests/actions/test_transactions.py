"""`action_search_transactions` against a real core_banking over HTTP (demo001's seeded
card payments: AMAZON MARKETPLACE -23.47 and AMAZON EU SARL -49.99 EUR among them)."""

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.transactions import MAX_LINES, ActionSearchTransactions, ActionTotalTransactions


def shown(dispatcher: CollectingDispatcher) -> list[str]:
    return [m["response"] for m in dispatcher.messages]


async def search_as_demo001(
    make_tracker, dispatcher, use_core_banking, text: str, entities: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Run the search for demo001's message; the responses it sent."""
    tracker = make_tracker(
        text=text,
        intent="search_transactions",
        entities=entities,
        metadata=use_core_banking.metadata("demo001"),
    )
    await ActionSearchTransactions().run(dispatcher, tracker, {})
    return list(dispatcher.messages)


async def test_a_merchant_search_lists_and_sums_its_payments(
    make_tracker, dispatcher, use_core_banking
) -> None:
    tracker = make_tracker(
        text="what did I spend at amazon?",
        intent="search_transactions",
        metadata=use_core_banking.metadata("demo001"),
        entities=[{"entity": "merchant", "value": "amazon"}],
    )
    await ActionSearchTransactions().run(dispatcher, tracker, {})
    assert shown(dispatcher) == [
        "utter_transactions_intro",
        "utter_transaction_line",
        "utter_transaction_line",
        "utter_transactions_total",
    ]
    intro, *lines, total = dispatcher.messages
    assert (intro["what"], intro["search_summary"]) == ("transactions", " at amazon")
    assert all("AMAZON" in line["description"] for line in lines)
    assert [line["amount"] for line in lines] == ["-23.47 EUR", "-49.99 EUR"]
    assert (total["count_text"], total["money_out"], total["money_in"]) == (
        "2 transactions",
        "73.46 EUR",
        "0.00 EUR",
    )


async def test_a_long_history_says_how_many_of_how_many_are_shown(
    make_tracker, dispatcher, use_core_banking
) -> None:
    tracker = make_tracker(
        text="show my transactions",
        intent="search_transactions",
        metadata=use_core_banking.metadata("demo001"),
    )
    await ActionSearchTransactions().run(dispatcher, tracker, {})
    lines = [m for m in dispatcher.messages if m["response"] == "utter_transaction_line"]
    assert len(lines) == MAX_LINES
    total = dispatcher.messages[-1]
    assert total["response"] == "utter_transactions_total"
    assert total["count_text"].endswith(f"transactions (the latest {MAX_LINES} shown)")
    assert int(total["count_text"].split()[0]) > MAX_LINES


async def test_nothing_found_is_said(make_tracker, dispatcher, use_core_banking) -> None:
    tracker = make_tracker(
        text="payments at zebrafish",
        intent="search_transactions",
        metadata=use_core_banking.metadata("demo001"),
        entities=[{"entity": "merchant", "value": "zebrafish"}],
    )
    await ActionSearchTransactions().run(dispatcher, tracker, {})
    assert shown(dispatcher) == ["utter_no_transactions"]
    assert dispatcher.messages[0]["search_summary"] == " at zebrafish"


async def test_a_spending_category_matches_its_merchants(
    make_tracker, dispatcher, use_core_banking
) -> None:
    # "groceries" is no text in any transaction: the category's merchants are (Tesco).
    intro, *lines, total = await search_as_demo001(
        make_tracker,
        dispatcher,
        use_core_banking,
        "what did I spend on groceries?",
        [{"entity": "merchant", "value": "groceries"}, {"entity": "direction", "value": "out"}],
    )
    assert (intro["what"], intro["search_summary"]) == ("payments", " on groceries")
    assert [line["amount"] for line in lines] == ["-62.15 EUR", "-85.40 EUR"]
    assert all("TESCO" in line["description"] for line in lines)
    assert (total["response"], total["money_out"]) == ("utter_transactions_total_out", "147.55 EUR")


async def test_a_category_named_without_a_preposition_filters_too(
    make_tracker, dispatcher, use_core_banking
) -> None:
    """ "when did i pay rent": no "on"/"at" before the category, which still decides."""
    intro, *lines, _total = await search_as_demo001(
        make_tracker,
        dispatcher,
        use_core_banking,
        "when did i pay rent",
        [{"entity": "direction", "value": "out"}],
    )
    assert intro["search_summary"] == " on rent"
    assert lines and all("1,100.00" in line["amount"] for line in lines), lines


async def test_money_in_shows_only_incoming_payments_and_bounds_with_currency(
    make_tracker, dispatcher, use_core_banking
) -> None:
    intro, *lines, total = await search_as_demo001(
        make_tracker,
        dispatcher,
        use_core_banking,
        "payments I received over 500 euros",
        [
            {"entity": "direction", "value": "in"},
            {"entity": "amount", "value": "500", "role": "min"},
            {"entity": "currency", "value": "EUR"},
        ],
    )
    assert (intro["what"], intro["search_summary"]) == ("incoming payments", " over 500.00 EUR")
    assert lines and all(not line["amount"].startswith("-") for line in lines)
    # Who paid is named beside the description (the seeded salary payer).
    assert "Salary · Acme Logistics GmbH" in [line["description"] for line in lines]
    assert (total["response"], total["money_out"]) == ("utter_transactions_total_in", "0.00 EUR")


async def test_money_out_leaves_out_incoming_payments(
    make_tracker, dispatcher, use_core_banking
) -> None:
    messages = await search_as_demo001(
        make_tracker,
        dispatcher,
        use_core_banking,
        "show payments over 100 euros",
        [
            {"entity": "direction", "value": "out"},
            {"entity": "amount", "value": "100", "role": "min"},
        ],
    )
    lines = [m for m in messages if m["response"] == "utter_transaction_line"]
    assert lines and all(line["amount"].startswith("-") for line in lines)
    assert not any(line["description"].startswith("Salary") for line in lines)
    assert dispatcher.messages[-1]["response"] == "utter_transactions_total_out"
    assert dispatcher.messages[-1]["money_in"] == "0.00 EUR"


async def test_guest_is_asked_to_log_in(make_tracker, dispatcher, use_core_banking) -> None:
    await ActionSearchTransactions().run(dispatcher, make_tracker(metadata={}), {})
    assert shown(dispatcher) == ["utter_login_required"]


async def test_yes_to_an_offer_of_money_received_shows_money_received(
    make_tracker, dispatcher, use_core_banking
) -> None:
    offer = {
        "event": "bot",
        "text": "… I can show the payments you've received if you like.",
        "data": {
            "buttons": [
                {
                    "title": "Show money I received",
                    "payload": '/search_transactions{"direction": "in"}',
                },
                {"title": "No, thanks", "payload": "/deny"},
            ]
        },
    }
    tracker = make_tracker(
        text="yes", intent="affirm", events=[offer], metadata=use_core_banking.metadata("demo001")
    )
    await ActionSearchTransactions().run(dispatcher, tracker, {})
    intro, *lines, total = dispatcher.messages
    assert intro["what"] == "incoming payments"
    assert lines and all(not line["amount"].startswith("-") for line in lines)
    assert total["response"] == "utter_transactions_total_in"


async def test_a_follow_up_refines_the_last_search(
    make_tracker, dispatcher, use_core_banking
) -> None:
    first = make_tracker(
        text="how much did I spend on groceries in October",
        intent="search_transactions",
        metadata=use_core_banking.metadata("demo001"),
        entities=[
            {"entity": "merchant", "value": "groceries"},
            {"entity": "direction", "value": "out"},
            {"entity": "time_period", "value": {"from": "2026-10-01", "to": "2026-10-31"}},
        ],
    )
    [remembered] = await ActionSearchTransactions().run(dispatcher, first, {})
    assert remembered["name"] == "last_transaction_search"
    last = remembered["value"]
    # "and on fuel?": a new topic (no merchant entity: the NLU's rule wants a verb), the
    # month and the direction kept.
    fuel = make_tracker(
        text="and on fuel?",
        intent="search_transactions",
        metadata=use_core_banking.metadata("demo001"),
        slots={"last_transaction_search": last},
    )
    quiet = CollectingDispatcher()
    [again] = await ActionSearchTransactions().run(quiet, fuel, {})
    assert again["value"] == {**last, "category": "fuel"}
    assert quiet.messages[0]["search_summary"] == " on fuel from 2026-10-01 to 2026-10-31"
    # Not a follow-up: a question of its own starts afresh.
    fresh = make_tracker(
        text="show my transactions",
        intent="search_transactions",
        metadata=use_core_banking.metadata("demo001"),
        slots={"last_transaction_search": last},
    )
    [new] = await ActionSearchTransactions().run(CollectingDispatcher(), fresh, {})
    assert new["value"]["category"] is None and new["value"]["period"] is None


async def test_the_biggest_payment_is_the_largest_by_size(
    make_tracker, dispatcher, use_core_banking
) -> None:
    # The seeded history is back-dated from today: BOOKING.COM -380.00 was 7 days ago,
    # the largest payment of the last ten days (yesterday and before: no test transfers).
    today = date.today()
    period = {"from": str(today - timedelta(days=10)), "to": str(today - timedelta(days=1))}
    tracker = make_tracker(
        text="what was my biggest payment last week?",
        intent="search_transactions",
        metadata=use_core_banking.metadata("demo001"),
        entities=[
            {"entity": "direction", "value": "out"},
            {"entity": "time_period", "value": period},
        ],
    )
    await ActionSearchTransactions().run(dispatcher, tracker, {})
    intro, *lines = dispatcher.messages
    assert (intro["response"], intro["rank"], intro["what"]) == (
        "utter_transactions_ranked_intro",
        "largest",
        "payment",
    )
    assert [line["amount"] for line in lines] == ["-380.00 EUR"]  # BOOKING.COM
    three = make_tracker(
        text="my 3 smallest payments",
        intent="search_transactions",
        metadata=use_core_banking.metadata("demo001"),
        entities=[{"entity": "direction", "value": "out"}],
    )
    quiet = CollectingDispatcher()
    await ActionSearchTransactions().run(quiet, three, {})
    intro, *lines = quiet.messages
    assert intro["rank"] == "3 smallest" and intro["what"] == "payments"
    sizes = [Decimal(line["amount"].split()[0].lstrip("-").replace(",", "")) for line in lines]
    assert len(sizes) == 3 and sizes == sorted(sizes)


# Issue 14: what the NLU reads from the customer's words, searched as meant.
async def demo001_search(
    make_tracker, bank, nlu, text: str, **tracker_args: Any
) -> tuple[CollectingDispatcher, list[Any]]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        text=text,
        intent="search_transactions",
        entities=nlu(text),
        metadata=bank.metadata("demo001"),
        **tracker_args,
    )
    events = await ActionSearchTransactions().run(dispatcher, tracker, {})
    return dispatcher, events


async def test_last_5_transactions_lists_five(make_tracker, use_core_banking, nlu) -> None:
    dispatcher, _ = await demo001_search(
        make_tracker, use_core_banking, nlu, "show my last 5 transactions"
    )
    lines = [m for m in dispatcher.messages if m["response"] == "utter_transaction_line"]
    assert len(lines) == 5
    total = dispatcher.messages[-1]
    assert total["count_text"].endswith("(the latest 5 shown)")


# The search "what did i spend in november" leaves behind (the slot's value).
NOVEMBER_PAYMENTS = {
    "text": None,
    "category": None,
    "direction": "out",
    "period": {"from": "2026-11-01", "to": "2026-11-30"},
    "low": None,
    "high": None,
    "currency": "EUR",
    "limit": None,
}


async def test_what_about_october_after_a_november_search_searches_october(
    make_tracker, use_core_banking, nlu
) -> None:
    dispatcher, [remembered] = await demo001_search(
        make_tracker,
        use_core_banking,
        nlu,
        "what about october?",
        slots={"last_transaction_search": NOVEMBER_PAYMENTS},
    )
    october = remembered["value"]["period"]
    assert october["from"].endswith("-10-01") and october["to"].endswith("-10-31")
    assert remembered["value"]["direction"] == "out"  # the other filters are kept
    assert f"from {october['from']} to {october['to']}" in dispatcher.messages[0]["search_summary"]


async def test_the_month_before_moves_the_last_search_back_a_month(
    make_tracker, use_core_banking, nlu
) -> None:
    """ "what did i spend at rewe last month" then "and the month before?" (it repeated
    November before)."""
    november_at_rewe = {**NOVEMBER_PAYMENTS, "text": "rewe"}
    dispatcher, [remembered] = await demo001_search(
        make_tracker,
        use_core_banking,
        nlu,
        "and the month before?",
        slots={"last_transaction_search": november_at_rewe},
    )
    assert remembered["value"]["period"] == {"from": "2026-10-01", "to": "2026-10-31"}
    assert remembered["value"]["text"] == "rewe"  # the other filters are kept
    assert "from 2026-10-01 to 2026-10-31" in dispatcher.messages[0]["search_summary"]


async def test_and_tesco_after_an_amazon_search_searches_tesco(
    make_tracker, use_core_banking, nlu
) -> None:
    amazon = {
        "text": "amazon",
        "category": None,
        "direction": "out",
        "period": None,
        "low": None,
        "high": None,
        "currency": "EUR",
        "limit": None,
    }
    dispatcher, [remembered] = await demo001_search(
        make_tracker, use_core_banking, nlu, "and tesco?", slots={"last_transaction_search": amazon}
    )
    assert remembered["value"] == {**amazon, "text": "tesco", "more_texts": ()}
    lines = [m for m in dispatcher.messages if m["response"] == "utter_transaction_line"]
    assert lines and all("TESCO" in line["description"] for line in lines)


async def test_last_friday_is_that_day(make_tracker, use_core_banking, nlu) -> None:
    _, [remembered] = await demo001_search(
        make_tracker, use_core_banking, nlu, "what did I spend last friday?"
    )
    period = remembered["value"]["period"]
    friday = date.fromisoformat(period["from"])
    assert period["from"] == period["to"] and friday.weekday() == 4
    assert 1 <= (date.today() - friday).days <= 7


async def test_since_payday_starts_at_the_last_salary(make_tracker, use_core_banking, nlu) -> None:
    dispatcher, [remembered] = await demo001_search(
        make_tracker, use_core_banking, nlu, "what did I spend since payday?"
    )
    # The seeded salary was booked 45 days and 3 hours ago (core_banking/seed.py: the
    # hours keep seeded bookings apart), so between 00:00 and 03:00 UTC its day is one more back.
    booked = datetime.now(timezone.utc) - timedelta(days=45, hours=45 % 7)
    assert remembered["value"]["period"] == {
        "from": str(booked.date()),
        "to": str(date.today()),
    }
    assert dispatcher.messages[0]["response"] == "utter_transactions_intro"


async def test_since_payday_without_a_salary_says_so(make_tracker, use_core_banking, nlu) -> None:
    # demo004 has received no salary: its history's salary credit (the seed's only
    # incoming payment) becomes a bonus first. Descriptions and names are encrypted at
    # rest, so the new ones are written as core_banking would have.
    import sqlite3

    bonus = use_core_banking.sealed("journals.description", "Bonus")
    payer = use_core_banking.sealed("ledger_entries.counterparty_name", "Bonus payer")
    customer = use_core_banking.customer_id("demo004")
    with sqlite3.connect(use_core_banking.database) as conn:
        conn.execute(
            "UPDATE journals SET description = ? WHERE kind = 'incoming_payment' "
            "AND id IN (SELECT journal_id FROM ledger_entries WHERE account_id IN "
            "(SELECT id FROM accounts WHERE customer_id = ?))",
            (bonus, customer),
        )
        conn.execute(
            "UPDATE ledger_entries SET counterparty_name = ? "
            "WHERE journal_id IN (SELECT id FROM journals WHERE kind = 'incoming_payment') "
            "AND account_id IN (SELECT id FROM accounts WHERE customer_id = ?)",
            (payer, customer),
        )
    dispatcher = CollectingDispatcher()
    text = "what did I spend since payday?"
    tracker = make_tracker(
        text=text,
        intent="search_transactions",
        entities=nlu(text),
        metadata=use_core_banking.metadata("demo004"),
    )
    assert await ActionSearchTransactions().run(dispatcher, tracker, {}) == []
    assert shown(dispatcher) == ["utter_payday_not_found"]


async def test_over_1_000_is_a_bound_of_a_thousand(make_tracker, use_core_banking, nlu) -> None:
    # "1,000" could be 1.00 in a decimal-comma locale; as a search bound it never is.
    dispatcher, [remembered] = await demo001_search(
        make_tracker, use_core_banking, nlu, "show payments over 1,000"
    )
    assert remembered["value"]["low"] == "1000"
    assert dispatcher.messages[0]["search_summary"] == " over 1,000.00 EUR"


async def test_a_known_merchant_named_without_a_preposition_filters(
    make_tracker, dispatcher, use_core_banking
) -> None:
    """ "did netflix charge me?": the merchant is named without "at" / "on"."""
    intro, *lines, _total = await search_as_demo001(
        make_tracker, dispatcher, use_core_banking, "did netflix charge me?", []
    )
    assert intro["search_summary"] == " at netflix"
    assert lines and all("NETFLIX" in line["description"] for line in lines), lines


@pytest.mark.parametrize(
    ("text", "merchants"),
    [
        ("how much did i spend at amazon and tesco", ("AMAZON", "TESCO")),
        ("what did I spend at Tesco, Shell or IKEA?", ("TESCO", "SHELL", "IKEA")),
        ("show my netflix and amazon purchases", ("NETFLIX", "AMAZON")),  # no "at"
    ],
)
async def test_several_merchants_are_each_searched(
    make_tracker, use_core_banking, nlu, text: str, merchants: tuple[str, ...]
) -> None:
    dispatcher, [remembered] = await demo001_search(make_tracker, use_core_banking, nlu, text)
    lines = [
        m["description"] for m in dispatcher.messages if m["response"] == "utter_transaction_line"
    ]
    for merchant in merchants:
        assert any(merchant in line for line in lines), (merchant, lines)
    assert all(any(m in line for m in merchants) for line in lines)  # nothing else
    summary = dispatcher.messages[0]["search_summary"].lower()
    assert all(m.lower() in summary for m in merchants)
    # The total counts them all: every line of both merchants, out.
    total = dispatcher.messages[-1]
    assert total["count_text"] == f"{len(lines)} transactions"
    assert len(remembered["value"]["more_texts"]) == len(merchants) - 1


async def test_a_follow_up_keeps_every_merchant(make_tracker, use_core_banking, nlu) -> None:
    both = {
        "text": "amazon",
        "category": None,
        "direction": "out",
        "period": None,
        "low": None,
        "high": None,
        "currency": "EUR",
        "limit": None,
        "more_texts": ["tesco"],  # as the slot comes back from Rasa (JSON)
    }
    dispatcher, [remembered] = await demo001_search(
        make_tracker,
        use_core_banking,
        nlu,
        "what about last month?",
        slots={"last_transaction_search": both},
    )
    assert remembered["value"]["text"] == "amazon"
    assert remembered["value"]["more_texts"] == ("tesco",)
    assert "at amazon and tesco" in dispatcher.messages[0]["search_summary"]


# Issue 14: cash withdrawals, and "how much is that in total?" after a search.
async def test_cash_withdrawals_are_the_atm_withdrawals(
    make_tracker, use_core_banking, nlu
) -> None:
    dispatcher, _ = await demo001_search(
        make_tracker, use_core_banking, nlu, "show my cash withdrawals"
    )
    intro, *lines, total = dispatcher.messages
    assert intro["search_summary"] == " on cash withdrawals"
    assert [line["amount"] for line in lines] == ["-200.00 EUR"]
    assert "ATM" in lines[0]["description"]
    assert total["money_out"] == "200.00 EUR"


def listed_events(action: str) -> list[dict[str, Any]]:
    """A conversation in which `action` gave the last list."""
    return [
        {"event": "user", "text": "..."},
        {"event": "action", "name": action},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "how much is that in total"},
    ]


AMAZON = {
    "text": "amazon",
    "category": None,
    "direction": "out",
    "period": None,
    "low": None,
    "high": None,
    "currency": "EUR",
    "limit": None,
}


async def test_the_total_of_the_last_search(make_tracker, use_core_banking, nlu) -> None:
    """The sum of what the last search found (the two Amazon payments), not the
    balances; what the message names refines it, as any follow-up does."""
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        text="how much is that in total",
        intent="transactions_total",
        metadata=use_core_banking.metadata("demo001"),
        slots={"last_transaction_search": AMAZON},
        events=listed_events("action_search_transactions"),
    )
    [remembered] = await ActionTotalTransactions().run(dispatcher, tracker, {})
    assert remembered["value"] == AMAZON | {"more_texts": ()}  # one merchant
    [total] = dispatcher.messages
    assert (total["response"], total["search_summary"]) == (
        "utter_transactions_sum_out",
        " at amazon",
    )
    assert (total["count_text"], total["money_out"]) == ("2 transactions", "73.46 EUR")
    text = "and what's the total for november"
    november = make_tracker(
        text=text,
        intent="transactions_total",
        entities=nlu(text),
        metadata=use_core_banking.metadata("demo001"),
        slots={"last_transaction_search": AMAZON},
        events=listed_events("action_search_transactions"),
    )
    quiet = CollectingDispatcher()
    [refined] = await ActionTotalTransactions().run(quiet, november, {})
    assert refined["value"]["text"] == "amazon" and refined["value"]["period"]["from"].endswith(
        "-11-01"
    )


async def test_a_total_after_the_balances_is_their_total(make_tracker, use_core_banking) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        text="how much is that in total",
        intent="transactions_total",
        metadata=use_core_banking.metadata("demo001"),
        slots={"last_transaction_search": AMAZON},  # an older search, before the balances
        events=[
            *listed_events("action_search_transactions")[:3],
            *listed_events("action_check_balance"),
        ],
    )
    await ActionTotalTransactions().run(dispatcher, tracker, {})
    assert shown(dispatcher)[-1] == "utter_balances_total"


async def test_a_total_of_nothing_listed_asks_what_to_add_up(
    make_tracker, use_core_banking
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        text="what's the total",
        intent="transactions_total",
        metadata=use_core_banking.metadata("demo001"),
    )
    assert await ActionTotalTransactions().run(dispatcher, tracker, {}) == []
    assert shown(dispatcher) == ["utter_total_of_what"]


async def test_two_periods_are_compared_with_their_totals_and_the_difference(
    make_tracker, dispatcher, use_core_banking
) -> None:
    """ "this month compared to last month" answered the first period only. The seeded
    history (core_banking/seed.py, days before the seeding): 30 to 7 days ago six
    payments, 774.61 EUR; 44 to 36 days ago three, 1,235.39 EUR (the salary is money in)."""
    today = date.today()

    def days_ago(start: int, end: int) -> dict[str, str]:
        return {
            "from": (today - timedelta(days=start)).isoformat(),
            "to": (today - timedelta(days=end)).isoformat(),
        }

    recent, earlier = days_ago(32, 6), days_ago(50, 33)
    messages = await search_as_demo001(
        make_tracker,
        dispatcher,
        use_core_banking,
        "what did i spend in the first period compared to the second",
        [
            {"entity": "time_period", "value": recent},
            {"entity": "time_period", "value": earlier},
            {"entity": "direction", "value": "out"},
        ],
    )
    assert shown(dispatcher) == [
        "utter_transactions_period_total",
        "utter_transactions_period_total",
        "utter_transactions_compared_out_more",
    ]
    first, second, difference = messages
    assert (first["money"], first["count_text"]) == ("774.61 EUR", "6 transactions")
    assert (second["money"], second["count_text"]) == ("1,235.39 EUR", "3 transactions")
    assert first["search_summary"] == f" from {recent['from']} to {recent['to']}"
    assert difference["difference"] == "460.78 EUR"
    assert (difference["larger_from"], difference["larger_to"]) == (earlier["from"], earlier["to"])
