"""How customers word a transfer, read from the message text where the NLU's entities
say too little: whether a name is given, a correction at the summary, the payment
reference ("... with reference rent", "put rent as the reference"), a payee named by
part of its name, a date that makes it a standing order, "all of it"."""

import re
from itertools import pairwise
from typing import Any

from rasa_sdk import Tracker

from actions.core_banking_api import Payee
from actions.forms import says_a_change

REFERENCE_MAX = 140  # core_banking's limit

# "50", "12,50 EUR": an amount given where the destination was asked (the amount slot
# takes it); not a name to report as unknown.
BARE_AMOUNT = re.compile(
    r"^\s*(?:[€$£]\s*)?\d[\d.,\s]*(?:€|eur|euros?|usd|dollars?|gbp|pounds?)?\s*$", re.IGNORECASE
)


_NOT_A_NAME = frozenset(
    {
        "my",
        "the",
        "a",
        "an",
        "your",
        "our",
        "me",
        "savings",
        "checking",
        "current",
        "account",
        "iban",
        "someone",
        "somebody",
        "them",
        "him",
        "her",
        "us",
        "you",
        "it",
        "this",
        "that",
        "whom",
        "who",
        "anyone",
        "everyone",
        "people",
        "friend",
        "family",
        "money",
        "cash",
        "funds",
        "back",
        "another",
        "some",
        "more",
        "all",
        "now",
        "again",
        "only",
        "just",
        "euros",
        "eur",
    }
)
# A lower-case word after "to" is a name only where a name ends the request: "transfer
# 90 to anna", "send 20 to bob for dinner"; "want to send money" names nobody.
_LOWER_NAME = re.compile(
    r"\bto\s+([a-z][\w'-]+)\s*(?:$|[.!?,]|\b(?:for|with|please|now|today|tomorrow|from|"
    r"ref|reference|as)\b)"
)


# The one paid, right after the verb and before the amount: "send anna 20", "pay tom €15".
_NAME_THEN_AMOUNT = re.compile(
    r"\b(?:send|pay|give|transfer|wire)\s+([a-z][\w'-]+)\s+(?:[€$£]\s*)?\d", re.IGNORECASE
)


def names_someone(text: str) -> bool:
    """The text sends to someone by name: capitalised anywhere ("to Anna", "pay Anna
    25"), lower-case where the name ends the request ("transfer 90 to anna"), or between
    the verb and the amount ("send anna 20")."""
    found = (
        re.search(r"\b(?:to|pay)\s+([A-Z][\w'-]+)", text)
        or _LOWER_NAME.search(text)
        or _NAME_THEN_AMOUNT.search(text)
    )
    return found is not None and found.group(1).lower() not in _NOT_A_NAME


# A name the NLU sees no request in: `inform`, or too unsure to be one.
_ANSWER_INTENTS = frozenset({"inform", "nlu_fallback"})
_ANSWER_BELOW_CONFIDENCE = 0.8


def plain_answer(tracker: Tracker) -> bool:
    intent = tracker.latest_message.get("intent") or {}
    return (
        intent.get("name") in _ANSWER_INTENTS
        or float(intent.get("confidence") or 0.0) < _ANSWER_BELOW_CONFIDENCE
    )


# Words of a transfer request itself: never the reason to pick a payee.
_REQUEST_WORDS = frozenset(
    {
        "send",
        "transfer",
        "money",
        "payment",
        "payments",
        "account",
        "bank",
        "please",
        "euro",
        "euros",
        "savings",
        "checking",
        "from",
        "with",
        "reference",
    }
)


# A correction at the summary ("i meant …", "… not Alpine", "actually to Anna"), and the
# part of it that names what was wrong ("not alpine", "instead of Tom").
CORRECTS = re.compile(
    r"\b(?:meant|mean|not|instead|actually|rather|wrong|oops|whoops|sorry|no,?\s+to)\b",
    re.IGNORECASE,
)
NOT_THIS = re.compile(
    r"\b(?:not|instead of|rather than)\s+(?:to\s+)?[\w'-]+(?:\s+(?!but\b|i\b)[\w'-]+)?",
    re.IGNORECASE,
)


# An amount named to rule it out: "50 not 500", "instead of €500", "rather than 500".
_RULED_OUT = re.compile(
    r"\b(?:not|instead of|rather than)\s*(?:[€$£]|eur(?:os?)?|usd|gbp)?\s*$", re.IGNORECASE
)


def settled_amount(amounts: list[dict[str, Any]], text: str) -> dict[str, Any] | None:
    """Of the `amount` entities one message gives (in order), the one the customer
    settled on: one after words of change ("send 5 to savings. actually no, make it 7",
    "100, wait, 200") replaces those before it; one named to rule it out ("50 not 500",
    "no, not 500 - 50") never counts; otherwise the first. Entities without offsets
    leave the first."""
    kept = [e for e in amounts if not _RULED_OUT.search(text[: _offset(e, "start")])]
    if not kept:
        return None
    chosen = kept[0]
    for before, after in pairwise(kept):
        if says_a_change(text[_offset(before, "end") : _offset(after, "start")]):
            chosen = after
    return chosen


def _offset(entity: dict[str, Any], key: str) -> int:
    value = entity.get(key)
    return value if isinstance(value, int) else 0


def payee_named_in(text: str, payees: list[Payee]) -> Payee | None:
    lowered = f" {text.lower()} "
    for payee in payees:  # full names first, then first names
        if f" {payee.name.lower()}" in lowered:
            return payee
    for payee in payees:
        first = payee.name.split()[0].lower()
        if re.search(rf"\b{re.escape(first)}\b", lowered):
            return payee
    # "pay my rent" -> "City Housing (rent)", "my energy bill" -> "Alpine Energy AG": a
    # word of four letters or more from one payee's name, when only one has it.
    by_word = [
        payee
        for payee in payees
        if any(
            re.search(rf"\b{re.escape(word)}\b", lowered)
            for word in re.findall(r"[^\W\d_]{4,}", payee.name.lower())
            if word not in _REQUEST_WORDS
        )
    ]
    return by_word[0] if len(by_word) == 1 else None


_REFERENCE_WORD = r"(?:reference\b|ref\b\.?|memo\b|note\b)"
# "... with reference rent november", "ref: INV-2291": the reference after the word.
_REFERENCE = re.compile(
    r"(?:,\s*|\b)(?:with\s+(?:the\s+|a\s+)?|and\s+)?(?:payment\s+)?"
    rf"{_REFERENCE_WORD}\s*(?:is\b|:|=|-)?\s*(?P<ref>.+)$",
    re.IGNORECASE,
)
# "put rent as the reference", "and use INV 7 as ref": the reference before the word.
_REFERENCE_BEFORE = re.compile(
    r"(?:,\s*|\b)(?:and\s+)?(?:put|use|add|write|set|with)\s+(?P<ref>.+?)\s+as\s+"
    rf"(?:the\s+|a\s+|my\s+)?(?:payment\s+)?{_REFERENCE_WORD}",
    re.IGNORECASE,
)


def reference_match(text: str) -> re.Match[str] | None:
    return _REFERENCE_BEFORE.search(text) or _REFERENCE.search(text)


def reference_in(text: str) -> str | None:
    """The payment reference the customer gave ("... with reference rent november",
    "ref: INV-2291", "put rent as the reference"), tidied and cut to what core_banking
    accepts."""
    found = reference_match(text)
    if found is None:
        return None
    ref = re.sub(r"\s+", " ", found.group("ref")).strip(" \t\"'\u201c\u201d\u2018\u2019.,;!?")
    return ref[:REFERENCE_MAX] or None


def without_reference(text: str) -> str:
    """The text less its payment reference: the words of a reference ("put rent as the
    reference") never name the recipient (City Housing (rent)) or the amount."""
    found = reference_match(text)
    return text if found is None else text[: found.start()] + " " + text[found.end() :]


_WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
LATER = re.compile(
    rf"\b(?:tomorrow|next (?:week|month|year|{_WEEKDAY})|on {_WEEKDAY}|in \d+ (?:days?|weeks?)|"
    r"on the \d{1,2}(?:st|nd|rd|th)|every (?:day|week|month)|monthly|weekly|"
    r"standing order|schedule[ds]?|later today|at the end of the month)\b",
    re.IGNORECASE,
)
# The whole balance asked for in the request itself: "move everything from savings to
# checking", "send all my savings to checking", "empty my savings into checking".
# "pay alpine energy the usual amount", "same as last time": what was last paid to them.
USUAL_AMOUNT = re.compile(
    r"\b(?:(?:the )?usual(?: amount)?|same (?:amount|as (?:last time|before|last month|usual))"
    r"|(?:what|how much) i (?:paid|sent|send|pay) (?:them |him |her )?(?:last time|before|"
    r"last month|usually))\b",
    re.IGNORECASE,
)
WHOLE_BALANCE_IN_REQUEST = re.compile(
    r"\b(?:everything|all (?:of )?(?:my |the )?(?:money|savings|balance|funds)|"
    r"(?:my |the )?(?:whole|full|entire) (?:balance|amount)|empty (?:out )?my)\b",
    re.IGNORECASE,
)
WHOLE_BALANCE = re.compile(
    r"^\W*(?:(?:all|everything)(?: of it| that'?s (?:there|in it|available))?|"
    r"(?:the )?(?:whole|full|entire) (?:balance|amount)|all (?:the|my) money)\W*$",
    re.IGNORECASE,
)
