"""Masking of payment secrets in user text, before it reaches Rasa, logs, Redis or
transcripts (pure: no I/O, no clock; the caller supplies reference ids).

Callers may rely on:
- ``mask`` returns the text with
  - card numbers (13-19 digits, optionally grouped with spaces, dashes or dots, mixed
    or not, Luhn-valid) replaced by ``[card •••• 1234]`` (last four digits kept);
  - a CVV / CVC / security code given with its label anywhere in the sentence ("my
    cvv is 737", "cvc: 123", "737 is the security code"): every 3-4 digit number of
    that sentence becomes ``[redacted]`` (the card's "ending 4444" excepted);
  - expiry dates ("exp 11/28", "valid thru 11/2028", or a bare MM/YY in a sentence
    with a card number or a CVV label) become ``[redacted]``;
  - gift-card codes (Crockford base32: groups of four joined by ``-`` or a space, five
    groups or more, optional check character; or 20-25 contiguous characters; mixing
    letters and digits, see ``_looks_random``) replaced by ``[giftcard:<ref>]``,
    with ``ref -> code`` in ``Masked.gift_cards`` so the caller can store it for later
    resolution;
  - if ``expecting_secret`` (the bot's last message asked for a CVV / security code)
    and the whole message is 3-4 digits: ``[redacted]`` -- the digits are dropped.
- Valid IBANs (``DE89 3704 0044 0532 0130 00``: the country's length and format, and
  the mod-97 check digits) are left intact, and so is a mistyped one: text typed as an
  IBAN (a registry country code, two digits, then one token or groups of four, ten
  digits or more), so that the bot can say the IBAN is wrong instead of taking its
  digits for a card number.
- ``redact_reply`` does the same to a bot reply for transcripts, keeping only a gift
  code's last four characters (no reference).
- Masking is idempotent: masked output contains nothing that would be masked again.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from gateway.chat.credentials import conceal

REDACTED = "[redacted]"

# Crockford base32 plus the letters core_banking reads as aliases (O->0, I/L->1), since
# customers type codes as they read them; only U never appears.
_CROCKFORD = "0-9A-TV-Z"
_GIFT_GROUPED = re.compile(
    rf"(?<![\w-])[{_CROCKFORD}]{{4}}([- ])[{_CROCKFORD}]{{4}}(?:\1[{_CROCKFORD}]{{4}}){{3,}}"
    rf"(?:-[{_CROCKFORD}*~$=U])?(?![\w-])",
    re.IGNORECASE,
)
_GIFT_CONTIGUOUS = re.compile(rf"(?<![\w-])[{_CROCKFORD}]{{20,25}}(?![\w-])", re.IGNORECASE)
# Runs of digit groups joined by one space or dash; a card is a window of whole groups.
_DIGIT_RUN = re.compile(r"(?<![0-9A-Za-z])\d+(?:(?:[ .\-]|  )\d+)*(?![0-9A-Za-z])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{1,4}){3,8}\b", re.IGNORECASE)
# Typed as an IBAN (the bot's entity rules read the same shape as `invalid_iban`).
_IBAN_SHAPED = re.compile(
    r"\b([A-Z]{2})\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?)\b",
    re.IGNORECASE,
)
# The IBAN registry's countries (SWIFT, 2025): other letters are no IBAN.
_IBAN_COUNTRIES = frozenset(
    re.findall(
        r"[A-Z]{2}",
        """
    AD AE AL AT AZ BA BE BG BH BI BR BY CH CR CY CZ DE DJ DK DO EE EG ES FI FK FO FR GB
    GE GI GL GR GT HR HU IE IL IQ IS IT JO KW KZ LB LC LI LT LU LV LY MC MD ME MK MN MR
    MT MU NI NL NO OM PK PL PS PT QA RO RS RU SA SC SD SE SI SK SM SO ST SV TL TN TR UA
    VA VG XK YE""",
    )
)
_BARE_SECRET = re.compile(r"\s*\d{3,4}\s*")
_SECRET_LABEL = re.compile(
    r"\b(?:cvv2?|cvc2?|cvn|csc|cid|security[ -]?(?:code|number|no)|"
    r"card[ -]verification(?:[ -](?:value|code|number))?|verification[ -](?:value|number))\b",
    re.IGNORECASE,
)
# A dot between digits ("4111.1111", "12.50") ends no sentence.
_SENTENCE = re.compile(r"(?:[^.!?\n]|\.(?=\d))+(?:[.!?\n]+|$)")
# A lone 3-4 digit number, not one group of a longer digit run (a card's "4111 1111").
_SHORT_NUMBER = re.compile(
    r"(?<![\w/.,-])(?<!\d{4}[ .-])(?<!\d{4}  )\d{3,4}(?![\w/,-]|\.\d|(?:[ .-]|  )\d{4}(?!\d))"
)
# A card's last four named as such is no secret ("the card ending 4444").
_NAMES_LAST_FOUR = re.compile(
    r"(?:ending|ends|end|last (?:4|four)(?: digits)?|••••)(?: (?:in|with|on|are|is))?[: ]*$",
    re.IGNORECASE,
)
_EXPIRY_LABELLED = re.compile(
    r"(\b(?:exp(?:iry|ires|iration|\.)?(?: date)?|valid (?:thru|through|until|till)|"
    r"good (?:thru|through))\b\W{0,3}(?:is |on |date )?)(\d{1,2} ?[/.-] ?(?:\d{4}|\d{2}))\b",
    re.IGNORECASE,
)
_MONTH_YEAR = re.compile(r"(?<![\w/.])(?:0?[1-9]|1[0-2]) ?/ ?(?:20)?\d{2}(?![\w/])")
_ASKS_SECRET = re.compile(
    r"\b(?:cvv2?|cvc2?|csc|security code|card verification|verification code|"
    r"3[- ]digit code|three[- ]digit code)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Masked:
    text: str
    gift_cards: dict[str, str] = field(default_factory=dict)  # ref -> code as typed
    redacted: bool = False  # a bare CVV was dropped


def new_ref() -> str:
    """Default reference id: 96 random bits, unguessable so refs are not enumerable."""
    return "gc_" + secrets.token_hex(12)


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def asks_for_secret(bot_text: str) -> bool:
    """Does this bot message ask for a CVV / security code (so the next bare 3-4 digit
    user message is that secret)?"""
    return bool(_ASKS_SECRET.search(bot_text))


def is_bare_secret(text: str) -> bool:
    """Would ``mask(text, expecting_secret=True)`` redact this whole message (3-4 digits
    alone)? Lets the caller decide on ``expecting_secret`` later, atomically in Redis."""
    return bool(_BARE_SECRET.fullmatch(text))


def mask(
    text: str, *, expecting_secret: bool = False, make_ref: Callable[[], str] = new_ref
) -> Masked:
    if expecting_secret and _BARE_SECRET.fullmatch(text):
        return Masked(REDACTED, redacted=True)
    gift_cards: dict[str, str] = {}

    def gift(match: re.Match[str]) -> str:
        code = match.group()
        if not _looks_random(code):
            return code
        ref = make_ref()
        gift_cards[ref] = code
        return f"[giftcard:{ref}]"

    return Masked(_mask_outside_ibans(text, gift), gift_cards)


def _mask_card_details(text: str) -> str:
    """CVVs named as such and expiry dates, sentence by sentence (after card numbers)."""
    return _SENTENCE.sub(lambda m: _mask_sentence_details(m.group()), text)


def _mask_sentence_details(sentence: str) -> str:
    sentence = _EXPIRY_LABELLED.sub(lambda m: m.group(1) + REDACTED, sentence)
    labelled = _SECRET_LABEL.search(sentence) is not None
    if not labelled and "[card •" not in sentence:
        return sentence
    sentence = _MONTH_YEAR.sub(REDACTED, sentence)
    if not labelled:
        return sentence

    def secret(match: re.Match[str]) -> str:
        before = sentence[max(0, match.start() - 24) : match.start()]
        return match.group() if _NAMES_LAST_FOUR.search(before) else REDACTED

    return _SHORT_NUMBER.sub(secret, sentence)


def redact_reply(text: str) -> str:
    """A bot reply as it may be kept for staff: card numbers masked as in ``mask`` and
    gift-card codes (the purchase receipt shows one once, sealed) cut to
    ``[gift card •••• ABCD]`` (last four characters), with no reference: nobody can
    recover the code from it."""
    text = conceal(text)

    def gift(match: re.Match[str]) -> str:
        code = match.group()
        if not _looks_random(code):
            return code
        plain = re.sub(r"[- ]", "", code)
        return f"[gift card •••• {plain[-4:].upper()}]"

    return _mask_outside_ibans(text, gift)


def _mask_outside_ibans(text: str, gift: Callable[[re.Match[str]], str]) -> str:
    # Nothing inside a real (mod-97 valid) IBAN is masked: account numbers must reach
    # the bot, and IBAN digit groups could otherwise pass for a card or a gift code.
    out: list[str] = []
    pos = 0
    for start, end in _iban_spans(text):
        out += [_mask_segment(text[pos:start], gift), text[start:end]]
        pos = end
    out.append(_mask_segment(text[pos:], gift))
    return "".join(out)


def _iban_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in _IBAN.finditer(text):
        # The pattern may run on into following words; keep the longest valid prefix.
        ends = [match.start() + m.end() for m in re.finditer(r"[A-Z0-9]+", match.group(), re.I)]
        for end in reversed(ends):  # iban_valid checks the length, so a lone token works
            if iban_valid(text[match.start() : end]):
                spans.append((match.start(), end))
                break
    for shaped in _IBAN_SHAPED.finditer(text):
        if _typed_as_iban(shaped) and not any(
            start < shaped.end() and shaped.start() < end for start, end in spans
        ):
            spans.append(shaped.span())
    return sorted(spans)


def _typed_as_iban(shaped: re.Match[str]) -> bool:
    """A mistyped IBAN, not a card or a gift code of the same shape: an IBAN country,
    mostly digits (a random gift code is about a third digits), and no valid gift code."""
    compact = shaped.group().replace(" ", "")
    digits = sum(ch.isdigit() for ch in compact)
    return (
        shaped.group(1).upper() in _IBAN_COUNTRIES
        and digits >= 10
        and digits >= 0.6 * len(compact)
        and not _gift_code_checks(compact)
    )


_GIFT_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_GIFT_ALIASES = str.maketrans("OIL", "011")


def _gift_code_checks(compact: str) -> bool:
    """Does this pass a gift card code's check character (core_banking: 19 Crockford
    base32 characters plus a Luhn mod 32 check)? Such text is masked as a code."""
    code = compact.upper().translate(_GIFT_ALIASES)
    if len(code) != 20 or any(ch not in _GIFT_ALPHABET for ch in code):
        return False
    total, double = 0, False
    for ch in reversed(code):
        value = _GIFT_ALPHABET.index(ch) * (2 if double else 1)
        total += value // 32 + value % 32
        double = not double
    return total % 32 == 0


def _looks_random(code: str) -> bool:
    """Random codes mix letters and digits; text that merely fits the shape does not:
    ``card 4111 1111 1111 1111`` (one group with letters: a card after a word), all
    digits (maybe a card), all letters unless dashed (words), and several groups of
    digits only (a card among words, "4111 1111 1111 1111 card card": a random code
    has such a group once in a hundred)."""
    groups = re.split(r"[- ]", code)
    if len(groups) == 1:
        groups = list(code)
    elif sum(1 for g in groups if g.isdigit()) >= 2:
        return False
    with_letters = sum(1 for g in groups if re.search(r"[A-Za-z]", g))
    if "-" in code:  # dashed groups of four are never ordinary words
        return with_letters >= 2
    if " " in code and any(g.isdigit() for g in groups):
        # Words are groups of four too ("0002 card card card card" after a card): spaced
        # groups with one of digits only are a code only when its check character says so.
        return _gift_code_checks(code.replace(" ", ""))
    return with_letters >= 2 and bool(re.search(r"\d", code))


def iban_valid(candidate: str) -> bool:
    """A real IBAN: the country's length and BBAN format (schwifty's registry) and the
    mod-97 check digits. Mod-97 alone is not enough: words and a card number after a
    token like "ae12" pass it once in 97 tries, and the card would go out unmasked."""
    try:
        IBAN(candidate.replace(" ", ""), validate_bban=True)
    except (SchwiftyException, ValueError):
        return False
    return True


def _mask_segment(text: str, gift: Callable[[re.Match[str]], str]) -> str:
    # CVVs and expiry dates first, while their labels are still words: a gift-code
    # shaped run of words ("help help help help cvv2 100") would otherwise swallow the
    # label and leave the number. Again after cards, for a bare MM/YY beside a card.
    text = _mask_card_details(text)
    text = _GIFT_GROUPED.sub(gift, text)
    text = _GIFT_CONTIGUOUS.sub(gift, text)
    return _mask_card_details(_mask_cards(text))


def _mask_cards(text: str) -> str:
    out: list[str] = []
    pos = 0
    for run in _DIGIT_RUN.finditer(text):
        groups = list(re.finditer(r"\d+", run.group()))
        i = 0
        while i < len(groups):
            # Longest Luhn-valid window of whole groups starting at group i (a card may
            # be followed by other numbers, e.g. an expiry year).
            best: tuple[int, str] | None = None
            digits = ""
            for j in range(i, len(groups)):
                digits += groups[j].group()
                if len(digits) > 19:
                    break
                if len(digits) >= 13 and luhn_valid(digits):
                    best = (j, digits)
            if best is None:
                i += 1
                continue
            j, digits = best
            start, end = run.start() + groups[i].start(), run.start() + groups[j].end()
            out += [text[pos:start], f"[card •••• {digits[-4:]}]"]
            pos = end
            i = j + 1
    out.append(text[pos:])
    return "".join(out)
