"""The rule-based entities the NLU adds (bot/components/entity_rules.py)."""

from datetime import date

import pytest

from bot.components.entity_rules import extract, iban_is_valid

TODAY = date(2026, 11, 25)


def found(text: str) -> list[tuple[str, object, object]]:
    return [(f.entity, f.value, f.role) for f in extract(text, TODAY)]


@pytest.mark.parametrize(("text", "expected"), [
    ("send 50 to Anna", [("amount", "50", None)]),
    ("move €1,250.50 from checking to savings", [
        ("amount", "1250.50", None), ("currency", "EUR", None),
        ("account_type", "checking", "from"), ("account_type", "savings", "to")]),
    ("show payments over 100 euros since May", [
        ("time_period", {"from": "2026-05-01", "to": "2026-11-25"}, None),
        ("amount", "100", "min"), ("currency", "EUR", None), ("direction", "out", None)]),
    ("what did I spend at Tesco last month?", [
        ("time_period", {"from": "2026-10-01", "to": "2026-10-31"}, None),
        ("merchant", "Tesco", None), ("direction", "out", None)]),
    ("payments between 1 and 15 June", [
        ("time_period", {"from": "2026-06-01", "to": "2026-06-15"}, None),
        ("direction", "out", None)]),
    ("show the payments I received in October", [
        ("time_period", {"from": "2026-10-01", "to": "2026-10-31"}, None),
        ("direction", "in", None)]),
    ("any incoming transactions from Acme Corp?", [
        ("merchant", "Acme Corp", None), ("direction", "in", None)]),
    ("how much did I spend on groceries this month", [
        ("time_period", {"from": "2026-11-01", "to": "2026-11-25"}, None),
        ("merchant", "groceries", None), ("direction", "out", None)]),
    ("between 20 and 50 EUR", [
        ("amount", "20", "min"), ("amount", "50", "max"), ("currency", "EUR", None)]),
    ("fifty euros", [("amount", "50", None), ("currency", "EUR", None)]),
    ("£20.5", [("amount", "20.5", None), ("currency", "GBP", None)]),
    ("send it to DE89 3704 0044 0532 0130 00 please", [("iban", "DE89370400440532013000", None)]),
    ("the card ending 4321", [("card_last4", "4321", None)]),
    ("freeze the card that ends in 0005 please", [("card_last4", "0005", None)]),
    ("unfreeze the one with last four digits 9876", [("card_last4", "9876", None)]),
    # Kept as typed, for validation to refuse: never cut or made positive.
    ("send 20.999 to savings", [("amount", "20.999", None), ("account_type", "savings", "to")]),
    ("send -5 to savings", [("amount", "-5", None), ("account_type", "savings", "to")]),
    # No amount out of the parts of a date or a period label.
    ("invoice 2026-11 pay 5", [("amount", "5", None), ("direction", "out", None)]),
    ("12/05 payment of 30", [("amount", "30", None), ("direction", "out", None)]),
    # Typed as an IBAN but failing its check: said to be one, and no amount.
    ("add payee Klaus with IBAN DE12345678901234567890", [
        ("invalid_iban", "DE12345678901234567890", None)]),
    ("send 50 to DE89 3704 0044 0532 0130 01", [
        ("invalid_iban", "DE89370400440532013001", None), ("amount", "50", None)]),
    ("check gift card 7K3M-9QPX-2HVD-RT6W-4NCJ", [
        ("gift_card_code", "7K3M-9QPX-2HVD-RT6W-4NCJ", None)]),
    ("redeem [giftcard:gc_ab12cd34] to checking", [
        ("gift_card_ref", "gc_ab12cd34", None), ("account_type", "checking", "to")]),
    ("transactions from 2026-01-01 to 2026-02-15", [
        ("time_period", {"from": "2026-01-01", "to": "2026-02-15"}, None)]),
    ("last 7 days", [("time_period", {"from": "2026-11-18", "to": "2026-11-25"}, None)]),
    ("in December", [("time_period", {"from": "2025-12-01", "to": "2025-12-31"}, None)]),
    ("my card is [card •••• 1111]", []),  # the gateway's mask: no amount in there
    ("send 20 with [card •••• 4242]", [("amount", "20", None)]),
])
def test_extract(text: str, expected: list[tuple[str, object, object]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize("text", ["my reference is AB12 invoice 2231 from 2025",
                                  "order XY99 1234 shipped", "code AB12CDEFGHIJKLMNOP"])
def test_text_that_only_starts_like_an_iban_is_no_invalid_iban(text: str) -> None:
    assert "invalid_iban" not in [kind for kind, _, _ in found(text)]


def test_iban_checksum() -> None:
    assert iban_is_valid("DE89370400440532013000")
    assert iban_is_valid("fr14 2004 1010 0505 0001 3m02 606")
    assert not iban_is_valid("DE89370400440532013001")
    assert not iban_is_valid("DE89")


def test_no_entities_in_plain_questions() -> None:
    assert found("how do I activate my card?") == []
    assert found("hello") == []
