"""Several requests in one message, split into the requests, in order (pure).

Rasa's REST channel gives one message one intent, so "send 40 to savings and then show
me my balance" lost the balance, and "how much do I have, and when did my salary come
in?" the salary. The gateway sends each request to Rasa as its own message, in order,
within the same turn (``turns.py``), so every request goes through the whole dialogue
machinery: a second request inside a transfer is answered as a digression and the
transfer resumes.

Callers may rely on: ``split`` returns the text itself as its only part unless a
connector ("and then", ", and", "and also", "; ", "? ", ". ", "then", "after that") is
followed by the start of a new request (a question word or a banking verb: "show",
"send", "freeze" …) of two words or more, or a question mark by a follow-up of two
words or more ("and on groceries?", "what about october?"), and preceded by something;
each part is
stripped and non-empty, and the parts, in order, are the text less the connectors. A
name list ("send 50 to Anna and Tom") is never split: "Tom" starts no request. One
exception adds words: a second amount with its own recipient after a payment ("send
10 to savings and 20 to Alpine Energy", "pay anna 20 and tom 30") is a second payment,
and its part repeats the payment's verb ("send 20 to Alpine Energy"), so that it can be
asked on its own. At most MAX_PARTS parts; the last one keeps the rest of the text.
"""

from __future__ import annotations

import re

MAX_PARTS = 4
_STARTS_A_REQUEST = (
    r"(?:what(?:'s|s)?|how|when|where|who|which|why|show|list|tell|give|send|transfer|"
    r"pay|move|freeze|unfreeze|block|unblock|check|add|remove|delete|buy|redeem|report|"
    r"cancel|can you|could you|did|do i|have i|is there|are there|"
    # Or another task's thing, without a verb: "my balance and my cards", "show my payees
    # and my last 3 transactions" (never a person: "to Anna and my brother").
    r"my\s+(?:(?:last|latest|recent|current)\s+)?(?:\d+\s+)?"
    r"(?:balances?|cards?|payees|transactions|payments|statement|gift\s+cards?)"
    r")\b"
)
# "after that", "once that's done": the request after it comes when the one before is done.
_AFTERWARDS = (
    r"(?:after\s+(?:that|this)|afterwards|once\s+(?:that|it|this)(?:'?s|\s+is)\s+done|"
    r"when\s+(?:that|it|this)(?:'?s|\s+is)\s+done)"
)
# The connector, then (looking ahead, not consumed) the start of a new request; or, after
# a question, a follow-up of it ("… in november? and on groceries?", "… amazon? what
# about tesco?"), which Rasa answers from the search before it.
_BOUNDARY = re.compile(
    rf"(?:(?:\s*,?\s*(?:\band\s+(?:then\s+)?)?\b{_AFTERWARDS},?\s*|"
    r"\s*(?:,\s*)?\band\s+then\b\s*|\s*,?\s+then\s+|\s*,?\s*\band\s+also\b\s*|"
    r"\s*,\s*and\s+|\s+and\s+|\s*;\s*|(?<=[?.!])\s+(?:and\s+|also,?\s+|then\s+)?)"
    rf"(?={_STARTS_A_REQUEST})"
    r"|(?<=\?)\s+(?=(?:and|what about|how about)\s+\S))",
    re.IGNORECASE,
)

# A payment ("send 10 to savings", "pls transfer €50 to Anna") and, after it, another
# amount with a recipient of its own ("and 20 to alpine energy", ", then another 5 to
# Tom"): a second payment said without its verb.
# The verb may come after a greeting or a lead-in of a few words ("hi, can you send",
# "good morning, I need to transfer").
_PAYMENT = re.compile(
    r"^(?:\W*[\w']+){0,6}?\W*\b(?P<verb>send|transfer|pay|move|wire)\b",
    re.IGNORECASE,
)
_AMOUNT = r"(?:[€$£]\s?)?\d[\d.,]*(?:\s?k\b)?(?:\s?(?:€|eur\b|euros?\b|bucks\b|dollars?\b))?"
# A comma between two digits is inside an amount ("75,50", "1,100"), never a connector.
_AND = r"(?:\s*(?:(?<!\d),|,(?!\d))\s*(?:and\s+)?|\s+(?:and|&|plus)\s+)(?:then\s+)?(?:also\s+)?"
# "… and 20 to alpine energy": an amount, then its recipient.
_ANOTHER_PAYMENT = re.compile(
    rf"{_AND}(?:another\s+)?(?=(?P<amount>{_AMOUNT})\s+to\s+\w)", re.IGNORECASE
)
# "pay alpine energy 20 and city housing 30": a recipient, then its amount, as in the first.
_NAME = r"(?:[A-Za-z][\w'.-]*\s+){1,4}"
_NAME_THEN_AMOUNT = re.compile(rf"^\s*{_NAME}{_AMOUNT}", re.IGNORECASE)
_ANOTHER_NAMED_PAYMENT = re.compile(
    rf"{_AND}(?={_NAME}(?P<amount>{_AMOUNT})(?:$|[\s.!?,]))", re.IGNORECASE
)
_TO = re.compile(r"\bto\b", re.IGNORECASE)

_REQUEST_START = re.compile(_STARTS_A_REQUEST, re.IGNORECASE)
_ANSWER_WORD = re.compile(
    r"^(?:y|yes|yeah|yep|yup|no|nope|nah|ok|okay|sure|correct|thanks|thank you)\W*$", re.IGNORECASE
)


def _stands_alone(piece: str) -> bool:
    """Worth its own Rasa message: a request, a yes/no answer, or a longer sentence. A
    short exclamation ("found it!" before "unfreeze please") is not: alone, it would be
    a "did you mean" menu; it stays with the request after it."""
    piece = piece.strip(" ,.;")
    return bool(_REQUEST_START.match(piece) or _ANSWER_WORD.match(piece) or len(piece.split()) >= 4)


def _payments(part: str) -> list[str]:
    """ "send 10 to savings and 20 to alpine" -> the two payments, each with the verb."""
    payment = _PAYMENT.match(part)
    if payment is None:
        return [part]
    found: list[str] = []
    rest, verb = part, payment.group("verb")
    # Where the first payment's recipient may start: after its verb ("i want to
    # transfer 75 …": the "to" of "want to" names no one).
    after_verb = payment.end()
    # "pay anna 20 and tom 30": recipients before their amounts (never "send 50 to Anna
    # and Tom", where Tom has no amount of his own).
    named_first = not _TO.search(part) and _NAME_THEN_AMOUNT.match(part[payment.end() :])
    another = _ANOTHER_NAMED_PAYMENT if named_first else _ANOTHER_PAYMENT
    while len(found) < MAX_PARTS - 1:
        # "send 10 to savings and 20 to …": a second amount only after a recipient.
        cut = next(
            (
                m
                for m in another.finditer(rest, after_verb)
                if named_first or _TO.search(rest, after_verb, m.start())
            ),
            None,
        )
        if cut is None:
            break
        found.append(rest[: cut.start()].strip(" ,"))
        rest = f"{verb} {rest[cut.end() :].strip()}"
        after_verb = len(verb)
    return [*found, rest]


def split(text: str) -> list[str]:
    parts = [payment for part in _requests(text) for payment in _payments(part)]
    if len(parts) > MAX_PARTS:  # nothing is dropped: the last part keeps the rest
        parts[MAX_PARTS - 1 :] = [" and ".join(parts[MAX_PARTS - 1 :])]
    return parts


def _requests(text: str) -> list[str]:
    parts: list[str] = []
    rest = text.strip()
    while len(parts) < MAX_PARTS - 1:
        cut = next(
            (
                m
                for m in _BOUNDARY.finditer(rest)
                if _stands_alone(rest[: m.start()]) and len(rest[m.end() :].split()) >= 2
            ),
            None,
        )
        if cut is None:
            break
        parts.append(rest[: cut.start()].strip())
        rest = rest[cut.end() :].strip()
    parts.append(rest)
    return [p for p in parts if p] or [text]
