"""Property tests of the PII masking (issue 13): the forms customers type card numbers,
CVVs and expiry dates in, generated, must never reach Rasa, Redis or transcripts."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.chat.pii import REDACTED, luhn_valid, mask

WORDS = st.lists(
    st.sampled_from(
        [
            "please",
            "freeze",
            "my",
            "card",
            "the",
            "thanks",
            "hi",
            "here",
            "it",
            "is",
            "and",
            "urgent",
            "help",
            "ok",
        ]
    ),
    max_size=4,
).map(" ".join)
SEPARATORS = st.sampled_from([" ", "-", ".", "  ", " - "[1:2]])
LABELS = st.sampled_from(
    [
        "cvv",
        "CVV",
        "cvv2",
        "cvc",
        "CVC",
        "cvc2",
        "security code",
        "Security Code",
        "card verification code",
        "card verification value",
        "csc",
        "CSC",
    ]
)
LABEL_GLUE = st.sampled_from([" ", ": ", " is ", " = ", " - ", ":", " number ", " is: "])


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    body = draw(st.lists(st.integers(0, 9), min_size=15, max_size=15))
    digits = "".join(map(str, [4, *body[1:]]))
    check = next(str(d) for d in range(10) if luhn_valid(digits + str(d)))
    return digits + check


@st.composite
def grouped(draw: st.DrawFn, number: str) -> str:
    groups = [number[i : i + 4] for i in range(0, len(number), 4)]
    if draw(st.booleans()):
        return number
    return groups[0] + "".join(draw(SEPARATORS) + g for g in groups[1:])


def digits_of(text: str) -> str:
    return re.sub(r"\D", "", text)


@given(card_numbers(), st.data(), WORDS, WORDS)
def test_a_card_number_in_any_grouping_keeps_only_its_last_four(
    number: str, data: st.DataObject, before: str, after: str
) -> None:
    typed = data.draw(grouped(number))
    out = mask(f"{before} {typed} {after}").text
    assert f"[card •••• {number[-4:]}]" in out
    assert number[:12] not in digits_of(out)


@given(LABELS, LABEL_GLUE, st.integers(100, 9999), WORDS, WORDS, st.booleans())
def test_a_cvv_named_anywhere_in_the_sentence_is_redacted(
    label: str, glue: str, cvv: int, before: str, after: str, label_first: bool
) -> None:
    said = f"{label}{glue}{cvv}" if label_first else f"{cvv} is my {label}"
    out = mask(f"{before} {said} {after}".strip()).text
    assert REDACTED in out
    assert str(cvv) not in out


@given(
    card_numbers(),
    st.data(),
    LABELS,
    st.integers(100, 9999),
    st.sampled_from(["exp", "expiry", "expires", "exp.", "valid thru", "expiry date"]),
    st.integers(1, 12),
    st.integers(25, 39),
    st.booleans(),
)
def test_a_card_with_its_expiry_and_cvv_leaves_nothing_but_its_last_four(
    number: str,
    data: st.DataObject,
    label: str,
    cvv: int,
    exp_label: str,
    month: int,
    year: int,
    long_year: bool,
) -> None:
    expiry = f"{month:02d}/{'20' if long_year else ''}{year}"
    text = f"card {data.draw(grouped(number))} {exp_label} {expiry} {label} {cvv}"
    out = mask(text).text
    shown = re.sub(r"\[card •••• \d{4}\]", "", out)  # the last four is shown by design
    assert expiry not in shown and str(cvv) not in shown
    assert number[:12] not in digits_of(out)
    assert mask(out).text == out  # masking is idempotent


@given(
    st.sampled_from(
        [
            "what is a cvv for?",
            "where do I find the security code?",
            "freeze the card ending 4444",
            "send 150 to Anna",
            "my card ending 1234 needs a new cvv",
        ]
    )
)
def test_questions_and_ordinary_numbers_are_left_alone(text: str) -> None:
    out = mask(text).text
    # No CVV was given: a card's "ending 1234" and an amount stay as typed.
    assert re.findall(r"\d+", out) == re.findall(r"\d+", text)


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        # Found by the properties above: words in groups of four swallowed the CVV label
        # as a gift code, and a card's last group with the words after it.
        ("help help help help cvv2 100", "", "100"),
        ("4000 0000 0000.0002 card card card card", "[card •••• 0002]", "4000"),
        ("card 4000 0000 0000  0002 exp 01/25 cvv 100", "[card •••• 0002]", "0000"),
    ],
)
def test_cases_the_properties_found(text: str, kept: str, gone: str) -> None:
    out = mask(text).text
    assert kept in out and gone not in out
