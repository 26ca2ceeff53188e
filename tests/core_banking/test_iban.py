from __future__ import annotations

import pytest

from core_banking.iban import OUR_BANK_CODE, is_valid_iban, make_iban


@pytest.mark.parametrize(
    "iban",
    ["DE89370400440532013000", "GB82WEST12345698765432", "CH9300762011623852957"],
)
def test_known_real_ibans_validate(iban: str) -> None:
    assert is_valid_iban(iban)


def test_generated_iban_has_correct_check_digits() -> None:
    iban = make_iban("37040044", "532013000")
    assert iban == "DE89370400440532013000"  # the published example IBAN


def test_generated_ibans_are_valid_and_single_digit_errors_are_caught() -> None:
    iban = make_iban(OUR_BANK_CODE, "0000000101")
    assert len(iban) == 22 and iban.startswith("DE") and is_valid_iban(iban)
    tampered = iban[:-1] + str((int(iban[-1]) + 1) % 10)
    assert not is_valid_iban(tampered)


def test_bad_inputs_rejected() -> None:
    with pytest.raises(ValueError):
        make_iban("123", "1")
    assert not is_valid_iban("not an iban")
