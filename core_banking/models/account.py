from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, func, select
from sqlalchemy.orm import Mapped, column_property, mapped_column, validates

from core_banking.dbclock import db_now
from core_banking.fieldcrypt import INDEX_LENGTH
from core_banking.models.base import Base, IdMixin, TimestampMixin
from core_banking.models.encrypted import (
    EncryptedText,
    active_cipher,
    blind_index_of,
    blind_indexes,
)
from core_banking.models.hold import Hold, HoldStatus

NUMBER_CONTEXT = "accounts.number"


def number_indexes(number: str) -> list[str]:
    """What a lookup by IBAN (electronic form) compares: its blind index under every
    index key, so accounts whose index a rotation has not moved yet are still found."""
    return blind_indexes(number, context=NUMBER_CONTEXT)


class AccountType(str, Enum):
    checking = "checking"
    savings = "savings"
    internal = "internal"  # the bank's own accounts (funding, fees, gift-card float, ...)


class Account(IdMixin, TimestampMixin, Base):
    """A ledger account. balance_minor is a cache of SUM(ledger_entries.amount_minor),

    maintained in the same transaction as the entries (see ledger.service.post_journal).
    available_minor is not stored: it is computed in every SELECT of an account as the
    balance less the active holds that have not expired by the database's clock, so an
    expired hold stops reserving money at once, with no job to run first.
    """

    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint("type IN ('checking', 'savings', 'internal')", name="type"),
        # Customer accounts belong to a customer; internal accounts belong to the bank.
        CheckConstraint("(type = 'internal') = (customer_id IS NULL)", name="owner_matches_type"),
        CheckConstraint("length(currency) = 3", name="currency_len"),
        Index("ix_accounts_customer_id", "customer_id"),
        Index("uq_accounts_number_index", "number_index", unique=True),
    )

    customer_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("customers.id", ondelete="RESTRICT"), nullable=True
    )
    # IBAN, electronic form (no spaces): a customer's is personal data, so encrypted at
    # rest; payments find an account by ``number_index`` (HMAC of the IBAN), which is
    # also what keeps numbers unique.
    number: Mapped[str] = mapped_column(EncryptedText(NUMBER_CONTEXT), nullable=False)
    number_index: Mapped[str] = mapped_column(
        String(INDEX_LENGTH), nullable=False, info=blind_index_of("number")
    )
    # Stable machine name for the bank's own accounts ("funding"); NULL for customers.
    system_code: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    type: Mapped[str] = mapped_column(String(16), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    balance_minor: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    if TYPE_CHECKING:
        available_minor: Mapped[int]  # mapped below, once Account.id exists

    @validates("number")
    def _index_number(self, key: str, value: str) -> str:
        self.number_index = active_cipher().blind_index(value, context=NUMBER_CONTEXT)
        return value


def active_holds_minor(account_id: object) -> object:
    """SQL: the sum of `account_id`'s active, unexpired holds (0 when none)."""
    return (
        select(func.coalesce(func.sum(Hold.amount_minor), 0))
        .where(
            Hold.account_id == account_id,
            Hold.status == HoldStatus.active.value,
            Hold.expires_at > db_now(),
        )
        .correlate_except(Hold)
        .scalar_subquery()
    )


Account.available_minor = column_property(
    Account.balance_minor - active_holds_minor(Account.id)
)
