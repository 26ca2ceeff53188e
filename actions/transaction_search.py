"""What a transactions question asks for (`Search`), read from the latest message's
entities, or from the last search when the message only refines it ("and on fuel?")."""

import re
from dataclasses import dataclass, fields, replace
from typing import Any

from rasa_sdk import Tracker

from actions import core_banking_api
from actions.core_banking_api import Transaction
from actions.entities import entities, entity_value, offered_entities
from actions.money import format_money, to_minor
from actions.periods import shifted
from actions.transaction_categories import (
    CATEGORY_KEYWORDS,
    CATEGORY_WORDS,
    KNOWN_MERCHANTS,
    in_category,
)

MAX_COUNT = 50  # the most a count ("last 80 transactions") lists in a chat
WHAT = {None: "transactions", "out": "payments", "in": "incoming payments"}


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
    # "last 5 transactions": how many to list (transactions.MAX_LINES if None).
    limit: int | None = None
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
        if self.category and not in_category(item, self.category):
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


async def find(token: str, search: Search, account_type: str | None) -> list[Transaction]:
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


def count_text(count: int, shown: int) -> str:
    """'1 transaction', '4 transactions', '14 transactions (the latest 10 shown)'."""
    text = f"{count} transaction{'' if count == 1 else 's'}"
    return f"{text} (the latest {shown} shown)" if count > shown else text
