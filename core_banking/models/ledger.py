from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core_banking.models.base import Base, IdMixin, TimestampMixin


class Journal(IdMixin, TimestampMixin, Base):
    """One business event (deposit, transfer, ...) posted as balanced ledger entries."""

    __tablename__ = "journals"

    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    description: Mapped[str] = mapped_column(String(255), nullable=False, default="")


class LedgerEntry(IdMixin, Base):
    """One leg of a journal.

    Sign convention: amount_minor is signed from the account's point of view; positive
    increases that account's balance_minor, negative decreases it. Entries of a journal
    sum to zero per currency, so the sum of all balances per currency (bank accounts
    included) is always zero; the bank's funding account goes negative by exactly the
    money it has put into customer accounts.
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("amount_minor <> 0", name="nonzero"),
        CheckConstraint("length(currency) = 3", name="currency_len"),
        Index("ix_ledger_entries_account_id", "account_id"),
        Index("ix_ledger_entries_journal_id", "journal_id"),
    )

    journal_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("journals.id", ondelete="RESTRICT"), nullable=False
    )
    account_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("accounts.id", ondelete="RESTRICT"), nullable=False
    )
    amount_minor: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
