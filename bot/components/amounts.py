"""Amounts of money as customers type them (pure; used by `entity_rules`).

Digits with spaces, dots or commas between thousands ("1 100", "1.100,50", "1,100.50"),
k/m suffixes ("2k", "1.5k"; "2m" only next to a currency, since an "m" alone is as
often metres or minutes), words ("fifty bucks", "a hundred", "two hundred and fifty")
with cents ("twenty-five euros and fifty cents", "twenty five euros fifty"), and a
currency before or after ("€50", "50€", "EUR 50", "$20").

One separator followed by exactly three digits ("1.100", "1,100") is read as the
customer's locale writes numbers when it is known. Otherwise it is ambiguous when both
readings are amounts (1,100.00 or 1.10): `Amount.options` holds both, and the caller
asks instead of guessing. Where the decimal reading is no amount in a two-decimal
currency ("1,234" as 1.234), a comma is taken as thousands (1234) and a dot is kept as
typed ("20.999"), for validation to refuse rather than cut.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

CURRENCY_WORDS = {
    "€": "EUR",
    "eur": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "$": "USD",
    "usd": "USD",
    "dollar": "USD",
    "dollars": "USD",
    "£": "GBP",
    "gbp": "GBP",
    "pound": "GBP",
    "pounds": "GBP",
    "quid": "GBP",
    "chf": "CHF",
    "francs": "CHF",
    "sek": "SEK",
    "pln": "PLN",
}
# "bucks" is money in the account's own currency: no currency said.
CUR_RE = (
    r"€|\$|£|eur(?:os?)?\b|usd\b|dollars?\b|gbp\b|pounds?\b|quid\b|chf\b|francs\b|sek\b|"
    r"pln\b|bucks\b"
)
# Languages that write a decimal comma and a dot (or space) between thousands.
DECIMAL_COMMA_LANGUAGES = frozenset(
    {
        "de",
        "fr",
        "es",
        "it",
        "nl",
        "pt",
        "pl",
        "da",
        "sv",
        "fi",
        "nb",
        "no",
        "cs",
        "sk",
        "hu",
        "ro",
        "tr",
        "ru",
        "el",
        "hr",
        "sl",
        "bg",
        "lt",
        "lv",
        "et",
        "id",
        "vi",
    }
)
_UNITS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
SMALL_NUMBERS = {word: value for value, word in enumerate(_UNITS)}
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
TENS = {word: 10 * (index + 2) for index, word in enumerate(_TENS)}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_NUMBER_WORD = "|".join([*SMALL_NUMBERS, *TENS, *_SCALES])
WORDS_RE = rf"(?:(?:a|an)\s+(?=hundred|thousand|million))?(?:{_NUMBER_WORD})(?:(?:[\s-]+|[\s-]+and[\s-]+)(?:{_NUMBER_WORD}))*"  # noqa: E501
# Thousands groups need one separator throughout: "1 100", "1.100.000", "1,100.50".
DIGITS_RE = r"\d{1,3}(?P<sep>[ .,])\d{3}(?:(?P=sep)\d{3})*(?:[.,]\d+)?|\d+(?:[.,]\d+)?"
_SUFFIX_RE = r"(?P<suffix>\s?(?:k|thousand|grand)\b|(?:m|mn|mio|million)\b)?"
_CENTS_RE = (
    rf"(?:\s*,?\s*(?:and\s+)?(?P<cents>\d{{1,2}}|{WORDS_RE})"
    r"(?:\s*(?P<cents_word>cents?\b|ct\b|c\b)|(?=\s*(?:$|[.!?,;]|\b(?:to|from|for|please|"
    r"into|in|on)\b))))?"
)
AMOUNT_RE = re.compile(
    rf"(?P<pre>{CUR_RE})?\s?(?P<neg>(?<![\w.,])-)?(?<![\d.,])(?<!\d[-/])"
    rf"(?:(?P<num>{DIGITS_RE})(?!\d)(?![/.,-]\d){_SUFFIX_RE}|(?P<words>\b{WORDS_RE}\b))"
    rf"(?:\s?(?P<post>{CUR_RE}){_CENTS_RE})?",
    re.IGNORECASE,
)


# Words after a number that make it no amount of money.
_NOT_MONEY_AFTER = re.compile(
    r"\s*(?:%|percent\b|per\s?cent\b|years?\b|months?\b|weeks?\b|days?\b|hours?\b|"
    r"minutes?\b|mins?\b|seconds?\b|times\b|people\b|cards?\b|transactions?\b|"
    r"payments?\b|purchases?\b|items?\b|st\b|nd\b|rd\b|th\b|(?:-|\s)?(?:first|second|"
    r"third|fourth|fifth|sixth|seventh|eighth|ninth)\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Amount:
    value: str | None  # a plain decimal ("1100", "25.50"); None when ambiguous
    currency: str | None  # ISO 4217, when said
    start: int  # of the number
    end: int
    match_start: int  # with a currency before it
    # Both readings of "1.100" when the locale is unknown: {"thousands", "decimal"}
    options: dict[str, str] | None = None


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _word_number(words: str) -> int | None:
    total, current = 0, 0
    for word in re.split(r"[\s-]+", words.lower()):
        if word in SMALL_NUMBERS:
            current += SMALL_NUMBERS[word]
        elif word in TENS:
            current += TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in _SCALES:
            total, current = total + max(current, 1) * _SCALES[word], 0
        elif word not in ("and", "a", "an"):
            return None
    return total + current or None


def read_digits(raw: str, locale: str | None) -> tuple[str, dict[str, str] | None]:
    """(the plain decimal, None) or ("", both readings) for an ambiguous number."""
    compact = raw.replace(" ", "")
    if "," in compact and "." in compact:  # the last separator is the decimal one
        decimal = "," if compact.rfind(",") > compact.rfind(".") else "."
        return compact.replace("." if decimal == "," else ",", "").replace(decimal, "."), None
    separators = [ch for ch in compact if ch in ",."]
    if not separators:
        return compact, None
    if len(separators) > 1:  # "1.100.000": one separator repeated is thousands
        *groups, last = compact.split(separators[0])
        if len(last) == 3:
            return "".join(groups) + last, None
        return f"{''.join(groups)}.{last}", None  # "1,100,50": the last one is decimal
    separator = separators[0]
    whole, fraction = compact.split(separator)
    if len(fraction) != 3 or " " in raw or len(whole) > 3 or whole.startswith("0"):
        return f"{whole}.{fraction}", None  # "12,50", "1 100,50", "0.500"
    language = (locale or "").replace("_", "-").split("-")[0].lower()
    if language:
        decimal_comma = language in DECIMAL_COMMA_LANGUAGES
        thousands = (separator == ".") == decimal_comma
        return (whole + fraction, None) if thousands else (f"{whole}.{fraction}", None)
    if fraction.endswith("0"):  # 1.10 is an amount too: ask
        decimal_reading = _plain(Decimal(f"{whole}.{fraction}"))
        return "", {"thousands": whole + fraction, "decimal": decimal_reading}
    return (whole + fraction, None) if separator == "," else (f"{whole}.{fraction}", None)


def _scaled(value: str, suffix: str | None) -> str:
    if not suffix:
        return value
    word = suffix.strip().lower()
    factor = 1000 if word in ("k", "thousand", "grand") else 1_000_000
    return _plain(Decimal(value) * factor)


def _cents(m: re.Match[str]) -> int | None:
    raw = m.group("cents")
    if raw is None:
        return None
    cents = int(raw) if raw.isdigit() else _word_number(raw)
    if (
        cents is None
        or not 0 < cents < 100
        or (raw.isdigit() and len(raw) == 1 and not m.group("cents_word"))
    ):
        return None
    return cents


def amounts(text: str, locale: str | None = None) -> list[Amount]:
    """Every amount of money in `text`, in order."""
    found = []
    for m in AMOUNT_RE.finditer(text):
        said = m.group("pre") or m.group("post")
        currency = CURRENCY_WORDS.get(said.lower()) if said else None
        if m.group("words"):
            number = _word_number(m.group("words"))
            # "one" or "ten" alone are rarely money ("the one ending 42", "ten cards"):
            # without a currency, a word amount needs a tens word or a scale word.
            words = set(re.split(r"[\s-]+", m.group("words").lower()))
            if number is None or (said is None and not words & (set(TENS) | set(_SCALES))):
                continue
            value, options = str(number), None
        else:
            value, options = read_digits(m.group("num"), locale)
            suffix = m.group("suffix")
            if suffix and suffix.strip().lower() in ("m", "mn", "mio") and said is None:
                continue  # "2m" with no currency: metres or minutes, not money
            if options:
                options = {k: _scaled(v, suffix) for k, v in options.items()}
            else:
                value = _scaled(value, suffix)
        if said is None and _NOT_MONEY_AFTER.match(text, m.end()):
            continue  # "twenty years", "5 times": a number, not money
        cents = _cents(m) if m.group("post") else None
        if cents is not None and value and "." not in value:
            value = f"{value}.{cents:02d}"
        if m.group("neg") and value:
            value = f"-{value}"  # kept negative, so that validation refuses it
        number_start = m.start("num") if m.group("num") else m.start("words")
        found.append(Amount(value or None, currency, number_start, m.end(), m.start(), options))
    return found
