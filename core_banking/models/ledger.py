from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core_banking.models.base import Base, IdMixin, TimestampMixin, UtcDateTime


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
        # Account history: newest first, keyset-paginated on (booked_at, id).
        Index("ix_ledger_entries_account_booked", "account_id", "booked_at", "id"),
    )

    journal_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("journals.id", ondelete="RESTRICT"), nullable=False
    )
    account_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("accounts.id", ondelete="RESTRICT"), nullable=False
    )
    amount_minor: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    # Copies of the journal's time and the account's balance right after this entry,
    # written under the account lock so history pages need no running-sum query.
    booked_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    balance_after_minor: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # Who is on the other side, as this account's owner should see it.
    counterparty_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    counterparty_number: Mapped[str | None] = mapped_column(String(34), nullable=True)
