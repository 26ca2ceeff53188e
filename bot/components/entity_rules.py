"""Rule-based extraction of the entities banking conversations need (pure, no Rasa).

Found entities (value types are what callers may rely on):
- `iban`: str, upper case without spaces, mod-97 valid.
- `invalid_iban`: str, upper case without spaces: something typed as an IBAN (one token,
  or groups of four; ten digits or more, and mostly digits) that fails the check, so
  that a form can say so instead of reading its digits as an amount.
- `gift_card_code`: str, text typed as a gift-card code, as typed (upper case), also
  when mistyped (the form checks it); `gift_card_ref`: str, the gateway's reference for
  a masked code, `[giftcard:<ref>]` in the text.
- `amount`: str, a plain decimal ("1250.5", "50", and as typed: "-5", "20.999", which
  validation refuses) read by `amounts` ("2k", "1 100", "twenty-five euros and fifty
  cents"); role `min` / `max` after words such as "over" / "under", or for the two ends
  of "between X and Y".
- `amount_ambiguous`: {"thousands": "1100", "decimal": "1.1"} for "1.100" / "1,100"
  when the `locale` is not known (roles as `amount`): never one of them guessed.
- `currency`: str, ISO 4217 ("EUR").
- `card_last4`: str, four digits after "ending (in)", "ends in", "last four (digits)".
- `account_type`: "checking" or "savings"; role `from` / `to` after "from" / "to|into".
- `time_period`: {"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}, both inclusive, relative
  expressions resolved against `today` (`periods`).
- `time_anchor`: "payday" for "since payday": a date only the account history knows.
- `period_shift`: {"unit": "day"|"week"|"month"|"year", "by": -1|1} for "the month
  before", "a week later": the last search's period moved by one unit (only when the
  text names no period of its own).
- `count`: int, how many to list ("last 5 transactions").
- `person`: str, a name said with a relation ("my sister Anna" -> "Anna"); `relation`:
  str, the relation ("sister"), which is never a name (`people`).
- `pronoun`: "him", "her" or "them" as the one money goes to ("now send her 30", "pay
  them 20", "transfer 50 to him"): somebody the conversation named before.
- `merchant`: str, the word(s) after "at" / "on" / "from" in a spending question, one
  entity for each merchant of a list ("at amazon and tesco"), or what a follow-up names
  alone ("and tesco?").
- `direction`: "out" (spent, paid, payments, purchases …) or "in" (received, income,
  deposits, refunds …) in a question about transactions; absent when neither is said.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.components.amounts import amounts
from bot.components.people import people
from bot.components.periods import (
    MONTHS,
    WEEKDAYS,
    compared_periods,
    payday,
    period_shift,
    time_period,
)

MIN_WORDS = r"(?:over|above|more than|greater than|at least|bigger than|larger than|exceeding)"
MAX_WORDS = r"(?:under|below|less than|at most|up to|smaller than|no more than)"


@dataclass(frozen=True)
class Found:
    entity: str
    value: Any
    start: int
    end: int
    role: str | None = None


def iban_is_valid(candidate: str) -> bool:
    iban = candidate.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", iban):
        return False
    digits = "".join(str(int(ch, 36)) for ch in iban[4:] + iban[:4])
    return int(digits) % 97 == 1


# Typed as an IBAN: one token, or the usual groups of four.
_IBAN_SHAPED = re.compile(
    r"\b[A-Za-z]{2}\d{2}(?:[A-Za-z0-9]{11,30}|(?: [A-Za-z0-9]{4}){2,7}(?: [A-Za-z0-9]{1,4})?)\b"
)


def _invalid_ibans(text: str, valid: list[Found]) -> list[Found]:
    found = []
    for m in _IBAN_SHAPED.finditer(text):
        value = m.group(0).replace(" ", "").upper()
        digits = sum(ch.isdigit() for ch in value)  # a random gift code is ~1/3 digits
        if (
            digits >= 10
            and digits >= 0.6 * len(value)
            and not iban_is_valid(value)
            and not any(f.start < m.end() and m.start() < f.end for f in valid)
        ):
            found.append(Found("invalid_iban", value, m.start(), m.end()))
    return found


def _ibans(text: str) -> list[Found]:
    found = []
    for m in re.finditer(r"\b[A-Za-z]{2}\d{2}(?:[ ]?[A-Za-z0-9]){11,30}\b", text):
        raw = m.group(0)
        # Trailing words can be swallowed by the optional spaces: shrink until valid.
        parts = raw.split(" ")
        while parts and not iban_is_valid("".join(parts)):
            parts.pop()
        if parts:
            value = "".join(parts).upper()
            found.append(Found("iban", value, m.start(), m.start() + len(" ".join(parts))))
    return found


# Typed as a gift-card code (XXXX-XXXX-XXXX-XXXX-XXXX, 20 letters and digits): groups of
# three to five joined by dashes, or by spaces; or one run of 16-25. Only the shape: whether the
# characters and the check character are right is the gift-card form's check
# (actions/gift_cards.py `normalise_code`, as core_banking's), which then says "that code
# doesn't look right" for a mistyped code instead of asking for one. The gateway masks
# well-formed codes first (`gift_card_ref`).
_CODE_DASHED = re.compile(r"(?<![\w-])[0-9A-Za-z]{3,5}(?:-[0-9A-Za-z]{1,5}){3,6}(?![\w-])")
# Spaced groups in capitals only: "code 7K3M 9QPX …" does not take the word "code" in.
_CODE_SPACED = re.compile(r"(?<![\w-])[0-9A-Z]{4}(?: [0-9A-Z]{3,5}){3,5}(?![\w-])")
_CODE_RUN = re.compile(r"(?<![\w-])[0-9A-Za-z]{16,25}(?![\w-])")


def _typed_as_gift_code(typed: str, spans: list[tuple[int, int]], start: int, end: int) -> bool:
    compact = re.sub(r"[\s-]", "", typed)
    letters = sum(ch.isalpha() for ch in compact)
    digits = sum(ch.isdigit() for ch in compact)
    return (
        16 <= len(compact) <= 25
        and not any(s < end and start < e for s, e in spans)  # an IBAN, valid or not
        and letters >= 2
        # Random codes are upper case or mix in digits ("love-from-your-aunt-mary" is no
        # code); spaced groups and runs mix letters and digits, which words do not.
        and ((compact.isupper() or digits > 0) if "-" in typed else digits >= 2)
    )


def _gift_cards(text: str, ibans: list[Found]) -> list[Found]:
    """Masked codes, and text typed as a code outside the IBANs (valid or not) found."""
    found = [
        Found("gift_card_ref", m.group(1), m.start(), m.end())
        for m in re.finditer(r"\[giftcard:([A-Za-z0-9_-]{4,64})\]", text)
    ]
    taken = [(f.start, f.end) for f in (*found, *ibans)]
    for pattern in (_CODE_DASHED, _CODE_SPACED, _CODE_RUN):
        for m in pattern.finditer(text):
            if _typed_as_gift_code(m.group(0), taken, m.start(), m.end()):
                found.append(Found("gift_card_code", m.group(0).upper(), m.start(), m.end()))
                taken.append(m.span())
    return found


_CARD_LAST4 = re.compile(
    r"\b(?:ending|ends|last (?:four|4)(?: digits)?)(?:\s+(?:in|with|are|is|of))?\s*[:#]?\s*"
    r"(\d{4})\b",
    re.IGNORECASE,
)


def _card_last4(text: str) -> list[Found]:
    return [
        Found("card_last4", m.group(1), m.start(1), m.end(1)) for m in _CARD_LAST4.finditer(text)
    ]


def _amounts(text: str, blocked: list[tuple[int, int]], locale: str | None) -> list[Found]:
    found: list[Found] = []
    for amount in amounts(text, locale):
        if any(amount.match_start < end and start < amount.end for start, end in blocked):
            continue
        before = text[max(0, amount.match_start - 25) : amount.match_start].lower()
        card_digits = r"(ending|ends|ending in|ends in|last four|last 4|number)\s*(with|in)?\s*$"
        if re.search(card_digits, before):
            continue  # "the card ending 4321" is not money
        role = None
        if re.search(rf"{MIN_WORDS}\s*$", before):
            role = "min"
        elif re.search(rf"{MAX_WORDS}\s*$", before):
            role = "max"
        if amount.options:  # "1.100": asked, never guessed
            found.append(Found("amount_ambiguous", amount.options, amount.start, amount.end, role))
        else:
            found.append(Found("amount", amount.value, amount.start, amount.end, role))
        if amount.currency:
            found.append(Found("currency", amount.currency, amount.match_start, amount.end))
    between = None
    if len(found) >= 2:
        between = re.search(r"\bbetween\s*$", text[: found[0].start].lower())
    numbers = [f for f in found if f.entity in ("amount", "amount_ambiguous")]
    if between and len(numbers) >= 2 and numbers[0].role is None and numbers[1].role is None:
        found = [
            Found(
                f.entity,
                f.value,
                f.start,
                f.end,
                "min" if f is numbers[0] else "max" if f is numbers[1] else f.role,
            )
            for f in found
        ]
    return found


_ACCOUNT_WORDS = re.compile(
    r"\b(savings?(?:\s+account)?|(?:checking|chequing)(?:\s+account)?|current\s+account|"
    r"main\s+account|everyday\s+account)\b",
    re.IGNORECASE,
)
# A misspelt account after a word that announces one ("sned 40 to savigns", "from my
# chekcing"): one letter wrong, missing, extra or two swapped, never the first. Only
# there, so that the same word said otherwise stays a word.
_AFTER_ACCOUNT_LEAD = re.compile(
    r"\b(?:to|into|in|from|my|the)\s+(?:my\s+|the\s+)?(?P<word>[a-z]{5,9})\b", re.IGNORECASE
)
_SPELLINGS = {"savings": "savings", "saving": "savings", "checking": "checking"}


def _one_edit_apart(a: str, b: str) -> bool:
    """Optimal string alignment distance of at most 1 (a swap of neighbours is one)."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def _account_role(text: str, start: int) -> str | None:
    before = text[max(0, start - 12) : start].lower()
    if re.search(r"\bfrom\s+(my\s+|the\s+)?$", before):
        return "from"
    return "to" if re.search(r"\b(to|into|in)\s+(my\s+|the\s+)?$", before) else None


def _account_types(text: str) -> list[Found]:
    found = []
    for m in _ACCOUNT_WORDS.finditer(text):
        kind = "savings" if m.group(1).lower().startswith("saving") else "checking"
        found.append(
            Found("account_type", kind, m.start(), m.end(), _account_role(text, m.start()))
        )
    for m in _AFTER_ACCOUNT_LEAD.finditer(text):
        word = m.group("word").lower()
        if _ACCOUNT_WORDS.fullmatch(word):
            continue  # spelt right: found above
        meant = next(
            (k for w, k in _SPELLINGS.items() if word[0] == w[0] and _one_edit_apart(word, w)),
            None,  # the first letter stays: "paving" or "having" is no "saving"
        )
        if meant is not None:
            start = m.start("word")
            found.append(
                Found("account_type", meant, start, m.end("word"), _account_role(text, start))
            )
    return sorted(found, key=lambda f: f.start)


STOP_AFTER_AT = {
    "my",
    "the",
    "a",
    "all",
    "least",
    "most",
    "this",
    "last",
    "home",
    "work",
    "an",
    "any",
    "night",
    "once",
    # what was already said, or all of it ("on that in total"): no merchant
    "that",
    "those",
    "these",
    "them",
    "it",
    "total",
    "altogether",
}


# "any payments to lidl?", "what did I pay to Amazon": whom money went to, named after
# a payment word (a bare "to" names transfer recipients and accounts, not merchants).
_PAID_TO = re.compile(
    r"\b(?i:paid|pay|payments?|spent|spend|spending)\s+(?i:to)\s+"
    r"([A-Za-z][\w&'.-]*(?:\s+[A-Z][\w&'.-]*)?)"
)


# "at amazon and tesco", "at Amazon, Tesco or Lidl": more merchants in the same list.
_ANOTHER_MERCHANT = re.compile(
    r"(?:\s*,\s*(?:and\s+|or\s+)?|\s+(?:and|or|&)\s+)(?:(?:at|on|from)\s+)?"
    r"([A-Za-z][\w&'.-]*(?:\s+[A-Z][\w&'.-]*)?)"
)


# Words that start what comes after a list, not another merchant ("at amazon and how …").
_STARTS_A_CLAUSE = frozenset(
    {"how", "what", "when", "where", "who", "which", "why", "show", "list", "tell", "give"}
    | {"send", "transfer", "pay", "did", "do", "does", "is", "are", "can", "could", "i"}
)


def _is_merchant(word: str, start: int, end: int, blocked: list[tuple[int, int]]) -> bool:
    first = word.split()[0].lower().rstrip(".")
    return (
        first not in STOP_AFTER_AT
        and first not in MONTHS
        and not any(start < e and s < end for s, e in blocked)
        and first not in {"checking", "savings", "saving", "current", "amazon's"}
    )


def _merchants(text: str, blocked: list[tuple[int, int]]) -> list[Found]:
    m = re.search(r"\b(?:at|on|from|with)\s+([A-Za-z][\w&'.-]*(?:\s+[A-Z][\w&'.-]*)?)", text)
    m = m or _PAID_TO.search(text)
    while m is not None:
        if _is_merchant(m.group(1), m.start(1), m.end(1), blocked):
            return _merchant_list(text, m, blocked)
        m = re.compile(r"\b(?:at|on|from|with)\s+([A-Za-z][\w&'.-]*(?:\s+[A-Z][\w&'.-]*)?)").search(
            text, m.end()
        )
    return []


def _merchant_list(text: str, m: re.Match[str], blocked: list[tuple[int, int]]) -> list[Found]:
    """The merchant `m` found, and each one listed right after it (one entity each)."""
    found = [Found("merchant", m.group(1).rstrip(".?!,"), m.start(1), m.end(1))]
    more = _ANOTHER_MERCHANT.match(text, m.end(1))
    while more is not None and _is_merchant(more.group(1), more.start(1), more.end(1), blocked):
        word = more.group(1)
        if word.split()[0].lower() in _NOT_MERCHANTS | _STARTS_A_CLAUSE:  # "… and then …"
            break
        found.append(Found("merchant", word.rstrip(".?!,"), more.start(1), more.end(1)))
        more = _ANOTHER_MERCHANT.match(text, more.end(1))
    return found


# Money coming in is named explicitly ("payments I received", "incoming payments"), so
# those words win over the spending words they often appear with.
INCOMING = re.compile(
    r"\b(received|receive[ds]?|incoming|income|deposits?|deposited|credited|credits|"
    r"refunds?|refunded|paid (?:to )?me|(?:got|get|gets|getting|been|was|were) paid|"
    r"money in|came in|come in|coming in|"
    r"salary|wages?)\b",
    re.I,
)
OUTGOING = re.compile(
    r"\b(spen[dt]|spending|paid|pay|payments?|purchases?|bought|charged|charges|"
    r"outgoing|debits?|debited|withdrawals?|withdrew|sent|expenses?|money out|"
    r"went out|go(?:es|ing)? out|left my account)\b",
    re.I,
)
TRANSACTION_QUESTION = re.compile(
    r"\b(spen[dt]|spending|paid|pay|payments?|purchases?|bought|transactions?)\b", re.I
)


# A number that names a document ("invoice 55", "order #1234", "policy no. 9"): no money.
_DOCUMENT_NUMBER = re.compile(
    r"\b(?:invoice|inv|order|policy|contract|customer|membership|booking|ticket|case)"
    r"\s*(?:no\.?|number|nr\.?|#)?\s*#?(?P<n>[A-Z]{0,3}-?\d[\d/-]*)",
    re.IGNORECASE,
)


def _direction(text: str) -> list[Found]:
    for value, pattern in (("in", INCOMING), ("out", OUTGOING)):
        m = pattern.search(text)
        if m:
            return [Found("direction", value, m.start(), m.end())]
    return []


# "last 5 transactions", "my 3 latest payments", "show ten transactions", typed in a
# hurry too ("my lst 3 transactons"): how many to list.
_COUNT_NUMBER = (
    r"(?P<n>\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|"
    r"twenty)"
)
_LISTED = r"(?:trans\w*|txns?|paym\w*|pymts?|purch\w*|deposits?|entries|items|movements)"
_COUNT = re.compile(
    r"\b(?:(?:last|lst|las|latest|lastest|recent|past|previous|first|my|the|show|list)\s+)"
    rf"{_COUNT_NUMBER}\s+(?:(?:most\s+)?(?:recent|latest|last|lst)\s+)?(?:card\s+)?"
    rf"{_LISTED}\b",
    re.IGNORECASE,
)
# "my last transaction", "the latest payment": one.
_ONE = re.compile(
    r"\b(?:my|the)\s+(?:very\s+)?(?:last|lst|latest|most\s+recent)\s+(?:card\s+)?"
    r"(?:transaction|payment|purchase|transfer|deposit)\b(?!s)",
    re.IGNORECASE,
)
# A follow-up that is only a count: "what about the last 4", "and the last ten?".
_COUNT_ONLY = re.compile(
    r"^\W*(?:(?:and|ok|okay|now|what about|how about|just|show me|show)\s+)*(?:the\s+|my\s+)?"
    rf"(?:last|lst|latest)\s+{_COUNT_NUMBER}\W*$",
    re.IGNORECASE,
)
_COUNT_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
}


def _count(text: str) -> list[Found]:
    m = _COUNT.search(text) or _COUNT_ONLY.search(text)
    if m is None:
        one = _ONE.search(text)
        return [Found("count", 1, one.start(), one.end())] if one else []
    raw = m.group("n").lower()
    n = int(raw) if raw.isdigit() else _COUNT_WORDS[raw]
    return [Found("count", n, m.start("n"), m.end("n"))] if n > 0 else []


# "and tesco?", "what about at Lidl": a follow-up that names only a merchant.
_FOLLOW_UP_MERCHANT = re.compile(
    r"^\W*(?:and|what about|how about)\s+(?:(?:at|on|from|in|with)\s+)?"
    r"(?P<m>[A-Za-z][\w&'.-]*(?:\s+[A-Z][\w&'.-]*)?)\W*$",
    re.IGNORECASE,
)
_NOT_MERCHANTS = STOP_AFTER_AT | {
    "you",
    "me",
    "it",
    "that",
    "this",
    "them",
    "now",
    "then",
    "today",
    "yesterday",
    "week",
    "month",
    "year",
    "savings",
    "checking",
    "saving",
    "current",
    "more",
    "less",
    "others",
    "other",
    "before",
    "after",
    "earlier",
    "later",
    "in",
    "out",
    "yes",
    "no",
    "ok",
    "okay",
    *WEEKDAYS,
}


def _follow_up_merchant(text: str, blocked: list[tuple[int, int]]) -> list[Found]:
    m = _FOLLOW_UP_MERCHANT.match(text)
    if m is None or any(m.start("m") < e and s < m.end("m") for s, e in blocked):
        return []
    word = m.group("m").rstrip(".")
    first = word.split()[0].lower()
    if first in _NOT_MERCHANTS or first in MONTHS:
        return []
    return [Found("merchant", word, m.start("m"), m.start("m") + len(word))]


# "send her 30", "pay them back", "transfer 50 to him", "a gift card for her".
_PRONOUN = re.compile(
    r"\b(?:(?:send|pay|transfer|give|wire|move|gift)\s+|(?:to|for)\s+)(?P<p>him|her|them)\b",
    re.IGNORECASE,
)


def _pronouns(text: str) -> list[Found]:
    return [
        Found("pronoun", m.group("p").lower(), m.start("p"), m.end("p"))
        for m in _PRONOUN.finditer(text)
    ]


def _people(text: str, blocked: list[tuple[int, int]]) -> list[Found]:
    found = []
    for person in people(text):
        found.append(Found("relation", person.relation, person.relation_start, person.relation_end))
        if person.name and not any(person.start < e and s < person.end for s, e in blocked):
            found.append(Found("person", person.name, person.start, person.end))
    return found


def extract(text: str, today: date | None = None, locale: str | None = None) -> list[Found]:
    """All entities found in `text`, in the order of the rules above. `locale` (a BCP 47
    tag such as "de-DE") decides how "1.100" is read; without it such a number is
    `amount_ambiguous`."""
    today = today or date.today()
    ibans = _ibans(text)
    ibans += _invalid_ibans(text, ibans)
    cards = _gift_cards(text, ibans)
    compared = compared_periods(text, today)  # "this month compared to last month"
    period = compared[0] if compared else time_period(text, today)
    anchor = payday(text) if period is None else None
    shift = period_shift(text) if period is None and anchor is None else None
    periods = (
        [Found("time_period", *p) for p in compared]
        if compared
        else [Found("time_period", period[0], period[1], period[2])]
        if period
        else [Found("time_anchor", "payday", *anchor)]
        if anchor
        else [Found("period_shift", shift[0], shift[1], shift[2])]
        if shift
        else []
    )
    count = _count(text)
    # The gateway's masks of a card number or CVV hold digits that are never amounts.
    masked = [m.span() for m in re.finditer(r"\[card [^\]]*\]|\[redacted\]", text)]
    blocked = masked + [(f.start, f.end) for f in (*ibans, *cards, *periods, *count)]
    last4 = _card_last4(text)
    blocked += [(f.start, f.end) for f in last4]  # "ending 4321" is no money
    blocked += [m.span("n") for m in _DOCUMENT_NUMBER.finditer(text)]  # "invoice 55" neither
    found = [
        *ibans,
        *cards,
        *periods,
        *count,
        *_amounts(text, blocked, locale),
        *_account_types(text),
        *last4,
    ]
    found += _people(text, blocked)
    found += _pronouns(text)
    if TRANSACTION_QUESTION.search(text) or INCOMING.search(text) or OUTGOING.search(text):
        found += _merchants(text, blocked + [(f.start, f.end) for f in found])
        found += _direction(text)
    elif not any(f.entity == "merchant" for f in found):
        found += _follow_up_merchant(text, blocked + [(f.start, f.end) for f in found])
    return found
