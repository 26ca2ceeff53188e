"""The bank's own (internal) ledger accounts, one per purpose and currency.

`funding` (EUR only, created by the seed) predates this module and keeps its code.
The others are found by system code `<purpose>:<CURRENCY>` and created on first use,
so a currency needs no migration before the first payment in it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.iban import OUR_BANK_CODE, make_iban
from core_banking.models import Account, AccountType

CLEARING = "clearing"  # money leaving to / arriving from other banks and card merchants
GIFT_CARD_LIABILITY = "gift_card_liability"  # what the bank owes gift card holders
_PURPOSE_CODES = {CLEARING: 91, GIFT_CARD_LIABILITY: 92}  # funding uses 90


def system_code(purpose: str, currency: str) -> str:
    return f"{purpose}:{currency}"


def system_account_number(purpose: str, currency: str) -> str:
    # Deterministic: the same purpose+currency gets the same IBAN on every database.
    letters = currency.upper()
    currency_index = sum((ord(c) - 65) * 26**i for i, c in enumerate(reversed(letters)))
    return make_iban(OUR_BANK_CODE, f"{currency_index:08d}{_PURPOSE_CODES[purpose]:02d}")


def new_system_account(purpose: str, currency: str) -> Account:
    return Account(
        customer_id=None,
        system_code=system_code(purpose, currency),
        number=system_account_number(purpose, currency),
        type=AccountType.internal.value,
        currency=currency,
        balance_minor=0,
    )


async def get_or_create(session: AsyncSession, purpose: str, currency: str) -> Account:
    """A concurrent first creation fails on the unique system_code; the caller's
    transaction retry (core_banking.transactions) then finds the row."""
    code = system_code(purpose, currency)
    account = await session.scalar(select(Account).where(Account.system_code == code))
    if account is None:
        account = new_system_account(purpose, currency)
        session.add(account)
        await session.flush()
    return account
