"""`action_search_transactions`: the customer's transactions filtered by what they
said: merchant, spending category or text, direction (money out or in), date range,
amount range, account."""

import re
from dataclasses import asdict, dataclass, fields, replace
from datetime import date
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import core_banking_api
from actions.balance import ActionCheckBalance
from actions.core_banking_api import Transaction
from actions.customer import customer_from_tracker
from actions.entities import entities, entity_value, offered_entities
from actions.money import format_money, to_minor
from actions.periods import shifted

MAX_LINES = 10  # listed when the customer names no count
MAX_COUNT = 50  # the most a count ("last 80 transactions") lists in a chat

# Spending categories by the merchant names on card payments and transfers. Keyword
# matching on the description is what this bank's data allows (no merchant category
# codes are stored); the words a customer uses map to one category.
CATEGORY_KEYWORDS: dict[str, tuple[str, ...]] = {
    "groceries": (
        "tesco",
        "lidl",
        "aldi",
        "rewe",
        "edeka",
        "sainsbury",
        "carrefour",
        "spar",
        "migros",
        "coop",
        "asda",
        "morrisons",
        "waitrose",
        "supermarket",
    ),
    "fuel": ("shell", "bp ", "esso", "aral", "totalenergies", "texaco", "petrol", "fuel"),
    "travel": (
        "booking.com",
        "airbnb",
        "ryanair",
        "easyjet",
        "lufthansa",
        "expedia",
        "hotel",
        "airline",
        "deutsche bahn",
        "trainline",
    ),
    "subscriptions": ("netflix", "spotify", "disney", "apple.com", "prime video", "youtube"),
    "online shopping": ("amazon", "ebay", "zalando", "etsy", "aliexpress"),
    "cash withdrawals": ("atm", "cash withdrawal"),
    "utilities": ("electricity", "energy", "gas bill", "water", "utility", "internet"),
    "rent": ("rent", "housing", "landlord"),
    "home and furniture": ("ikea", "furniture", "hardware"),
}
CATEGORY_WORDS = {
    "groceries": "groceries",
    "grocery": "groceries",
    "supermarket": "groceries",
    "supermarkets": "groceries",
    "food": "groceries",
    "fuel": "fuel",
    "petrol": "fuel",
    "gas": "fuel",
    "diesel": "fuel",
    "travel": "travel",
    "travelling": "travel",
    "hotels": "travel",
    "hotel": "travel",
    "flights": "travel",
    "holidays": "travel",
    "holiday": "travel",
    "trips": "travel",
    "subscriptions": "subscriptions",
    "streaming": "subscriptions",
    "shopping": "online shopping",
    "online": "online shopping",
    "cash": "cash withdrawals",
    "atm": "cash withdrawals",
    "withdrawals": "cash withdrawals",
    "utilities": "utilities",
    "bills": "utilities",
    "electricity": "utilities",
    "energy": "utilities",
    "rent": "rent",
    "housing": "rent",
    "furniture": "home and furniture",
}
WHAT = {None: "transactions", "out": "payments", "in": "incoming payments"}
# Merchants known by name (one word), found in a question without "at" / "on".
_NOT_MERCHANTS = frozenset({"airline", "hardware", "internet", "landlord", "utility", "water"})
KNOWN_MERCHANTS = frozenset(
    k.strip()
    for keywords in CATEGORY_KEYWORDS.values()
    for k in keywords
    if " " not in k.strip() and "." not in k and k.strip() not in {*CATEGORY_WORDS, *_NOT_MERCHANTS}
)


@dataclass(frozen=True)
class Search:
    """What the customer asked for, as read from the latest message's entities."""

    text: str | None  # a merchant or other text, searched by core_banking
    category: str | None  # a key of CATEGORY_KEYWORDS, matched here
    direction: str | None  # "out", "in" or None for both
    period: dict[str, str] | None
    low: str | None  # amount bounds as typed ("100"), in the currency of each item
    high: str | None
    currency: str  # for showing the bounds
    limit: int | None = None  # "last 5 transactions": how many to list (MAX_LINES if None)
    # "at amazon and tesco": the merchants after the first (`text`); any of them matches.
    more_texts: tuple[str, ...] = ()

    @property
    def texts(self) -> tuple[str | None, ...]:
        """What core_banking is asked to match, one search each (None: everything)."""
        return (self.text, *self.more_texts) if self.text else (None,)

    def summary(self) -> str:
        parts = []
        if self.category:
            parts.append(f" on {self.category}")
        elif self.text:
            names = [self.text, *self.more_texts]
            listed = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
            parts.append(f" at {listed}")
        if self.period:
            parts.append(f" from {self.period['from']} to {self.period['to']}")
        for word, bound in (("over", self.low), ("under", self.high)):
            if bound:
                parts.append(f" {word} {_shown_amount(bound, self.currency)}")
        return "".join(parts)

    def keeps(self, item: Transaction) -> bool:
        amount = item.amount_minor
        if (self.direction == "out" and amount >= 0) or (self.direction == "in" and amount <= 0):
            return False
        if self.category and not _in_category(item, self.category):
            return False
        return _within(item, self.low, self.high)


def _offered_direction(tracker: Tracker) -> str | None:
    # "yes" to "I can show the payments you've received" (receiving_money's button)
    value = offered_entities(tracker, "search_transactions").get("direction")
    return value if value in ("in", "out") else None


# "and on fuel?", "what about last week?": the last search with what this one changes.
_FOLLOW_UP = re.compile(r"^\W*(?:and|what about|how about|only|just|also|same)\b", re.I)
# "whats the biggest one", "the smallest of those": a ranking of what was just listed.
_OF_THOSE = re.compile(
    r"\b(?:biggest|largest|highest|smallest|lowest|most expensive)\s+(?:one|ones)\b"
    r"|\bof\s+(?:those|these|them)\b",
    re.I,
)
# What a follow-up names, where the NLU's merchant rule (which wants a spending verb)
# found nothing: "and on fuel?", "what about at Lidl".
_FOLLOW_UP_TOPIC = re.compile(r"\b(?:on|at|from|for)\s+([A-Za-z][\w.&'-]*)")
_NOT_A_TOPIC = frozenset(
    {
        "the",
        "my",
        "it",
        "that",
        "this",
        "those",
        "these",
        "them",
        "all",
        "total",
        "last",
        "next",
        "yesterday",
        "today",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "week",
        "month",
        "year",
    }
)


def read_search(tracker: Tracker, refines: bool = False) -> Search:
    """The search the latest message asks for; `refines`: it refines the last search
    whatever its words ("how much is that in total?")."""
    text = str(tracker.latest_message.get("text") or "")
    # "at amazon and tesco": the NLU gives one `merchant` entity each.
    merchants = [str(e.get("value")) for e in entities(tracker, "merchant") if e.get("value")]
    merchant = merchants[0] if merchants else None
    follow_up = _follow_up_of(tracker, text, refines)
    if merchant is None and follow_up is not None:
        named = _FOLLOW_UP_TOPIC.search(text)
        if (
            named
            and named.group(1).lower() not in _NOT_A_TOPIC
            and not _inside_an_entity(tracker, *named.span(1))  # "for november"
        ):
            merchant = named.group(1)
    category = CATEGORY_WORDS.get(str(merchant).lower()) if merchant else None
    if merchant is None and follow_up is None:
        words = re.findall(r"[a-z0-9.]+", text.lower())
        # "when did i pay rent": a category named without "at"/"on" in front of it.
        category = next((CATEGORY_WORDS[w] for w in words if w in CATEGORY_WORDS), None)
        if category is None:
            # "did netflix charge me?", "show my amazon and tesco purchases": merchants
            # we know.
            merchants = list(dict.fromkeys(w for w in words if w in KNOWN_MERCHANTS))
            merchant = merchants[0] if merchants else None
    search = Search(
        text=None if category else merchant,
        category=category,
        direction=entity_value(tracker, "direction") or _offered_direction(tracker),
        period=entity_value(tracker, "time_period"),
        low=_bound(tracker, "min"),
        high=_bound(tracker, "max"),
        currency=entity_value(tracker, "currency") or "EUR",
        limit=_count(entity_value(tracker, "count")),
        more_texts=() if category else tuple(merchants[1:]),
    )
    if follow_up is None:
        return search
    # What the follow-up says replaces; what it leaves out is kept (a new topic replaces
    # both the merchant and the category).
    kept = {
        f.name: getattr(follow_up, f.name)
        for f in fields(Search)
        if getattr(search, f.name) is None
    }
    if search.text or search.category:
        kept.pop("text", None)
        kept.pop("category", None)
    else:  # the merchants of "at amazon and tesco" are kept with the first
        kept["more_texts"] = follow_up.more_texts
    shift = entity_value(tracker, "period_shift")
    if search.period is None and follow_up.period is not None and shift is not None:
        # "and the month before?": the last period, moved (kept as it was if it cannot be)
        kept["period"] = shifted(follow_up.period, shift) or follow_up.period
    return replace(search, **kept)


def _inside_an_entity(tracker: Tracker, start: int, end: int) -> bool:
    """The NLU read these characters as something else (a date, an amount, an account)."""
    return any(
        isinstance(e.get("start"), int)
        and isinstance(e.get("end"), int)
        and e["start"] < end
        and start < e["end"]
        for e in tracker.latest_message.get("entities") or []
    )


def _bound(tracker: Tracker, role: str) -> str | None:
    """An amount bound ("over 100"). Of an ambiguous "over 1,000" (1,000.00 or 1.00?) the
    thousands: a search bound of 1.00 is never what is meant, and the summary says the
    bound used, so the customer sees it (a transfer asks instead)."""
    value = entity_value(tracker, "amount", role)
    if value is None:
        ambiguous = entity_value(tracker, "amount_ambiguous", role)
        value = ambiguous.get("thousands") if isinstance(ambiguous, dict) else None
    return None if value is None else str(value)


def _follow_up_of(tracker: Tracker, text: str, refines: bool = False) -> Search | None:
    """The last search, when this message only refines it ("and on fuel?")."""
    last = tracker.get_slot("last_transaction_search")
    moves_its_period = entity_value(tracker, "period_shift") is not None  # "the month before?"
    leans_on_it = _FOLLOW_UP.match(text) or _OF_THOSE.search(text)
    if not isinstance(last, dict) or not (refines or moves_its_period or leans_on_it):
        return None
    period = last.get("period")
    return Search(
        text=_text_or_none(last.get("text")),
        category=last.get("category") if last.get("category") in CATEGORY_KEYWORDS else None,
        direction=_text_or_none(last.get("direction")),
        period=period if isinstance(period, dict) else None,
        low=_text_or_none(last.get("low")),
        high=_text_or_none(last.get("high")),
        currency=str(last.get("currency") or "EUR"),
        limit=_count(last.get("limit")),
        more_texts=tuple(str(t) for t in last.get("more_texts") or () if t),
    )


def _count(value: Any) -> int | None:
    """How many to list: the NLU's `count` ("last 5 transactions"), within 1..MAX_COUNT."""
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
        return None
    return min(max(int(value), 1), MAX_COUNT)


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


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
        try:
            found = await _search(customer.access_token, search, account_type)
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
        count_text=_count_text(len(found), shown),
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
            found = await _search(customer.access_token, search, account_type)
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
        count_text=_count_text(len(found), len(found)),
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


async def _search(token: str, search: Search, account_type: str | None) -> list[Transaction]:
    """Newest first, over the customer's accounts (or those of `account_type`). A
    category is matched here, over the page core_banking returns per account (the newest
    100 in the period, `core_banking_api.list_transactions`)."""
    accounts = await core_banking_api.list_accounts(token)
    if account_type:
        accounts = [a for a in accounts if a.type == account_type] or accounts
    found: list[Transaction] = []
    for account in accounts:
        for text in search.texts:
            found += await core_banking_api.list_transactions(
                token,
                account.id,
                q=text,
                date_from=search.period["from"] if search.period else None,
                date_to=search.period["to"] if search.period else None,
            )
    if len(search.texts) > 1:  # a transaction two merchants' names both match: once
        unique = {(t.booked_at, t.amount_minor, t.description): t for t in found}
        found = list(unique.values())
    found = [t for t in found if search.keeps(t)]
    found.sort(key=lambda t: t.booked_at, reverse=True)
    return found


def _count_text(count: int, shown: int = MAX_LINES) -> str:
    """'1 transaction', '4 transactions', '14 transactions (the latest 10 shown)'."""
    text = f"{count} transaction{'' if count == 1 else 's'}"
    return f"{text} (the latest {shown} shown)" if count > shown else text


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


def _in_category(item: Transaction, category: str) -> bool:
    name = item.counterparty.name
    text = " ".join(v for v in (item.description, name) if v).lower() + " "
    return any(keyword in text for keyword in CATEGORY_KEYWORDS[category])


def _shown_amount(amount: str, currency: str) -> str:
    try:
        return format_money(to_minor(amount, currency), currency)
    except ValueError:
        return amount


def _within(item: Transaction, low: str | None, high: str | None) -> bool:
    # Customers mean the size of a payment, whatever its direction.
    size = abs(item.amount_minor)
    currency = item.currency
    try:
        if low is not None and size <= to_minor(low, currency):
            return False
        if high is not None and size >= to_minor(high, currency):
            return False
    except ValueError:
        return True
    return True
