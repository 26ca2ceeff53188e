import pytest

from actions.money import format_money, mask_account_number
from tests.actions.conftest import sealed_metadata


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (100000, "EUR", "1,000.00 EUR"),
        (123456, "eur", "1,234.56 EUR"),
        (5, "EUR", "0.05 EUR"),
        (-2550, "USD", "-25.50 USD"),
        (1500, "JPY", "1,500 JPY"),
        (1234, "KWD", "1.234 KWD"),
        (0, "GBP", "0.00 GBP"),
    ],
)
def test_format_money(minor: int, currency: str, text: str) -> None:
    assert format_money(minor, currency) == text


def test_mask_account_number_keeps_last_four() -> None:
    assert mask_account_number("DE89370400440532013000") == "•••• 3000"
    assert mask_account_number("123") == "123"


def test_customer_metadata_must_carry_id_and_token(make_tracker) -> None:
    from actions.customer import customer_from_tracker

    assert customer_from_tracker(make_tracker(metadata={"customer_id": "c1"})) is None
    assert customer_from_tracker(make_tracker(metadata={"access_token": "t"})) is None
    assert customer_from_tracker(make_tracker(metadata={"credential": 5})) is None
    guest = sealed_metadata(None, None)
    assert customer_from_tracker(make_tracker(metadata=guest)) is None
    customer = customer_from_tracker(
        make_tracker(metadata={**sealed_metadata("c1", "t"), "display_name": "Ann"})
    )
    assert customer is not None and customer.customer_id == "c1" and customer.display_name == "Ann"
