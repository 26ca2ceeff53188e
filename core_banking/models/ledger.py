from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core_banking.fieldcrypt import INDEX_LENGTH
from core_banking.models.base import Base, IdMixin, TimestampMixin, UtcDateTime
from core_banking.models.encrypted import EncryptedText, blind_index_of

DESCRIPTION_CONTEXT = "journals.description"
NAME_CONTEXT = "ledger_entries.counterparty_name"
NUMBER_CONTEXT = "ledger_entries.counterparty_number"


class Journal(IdMixin, TimestampMixin, Base):
    """One business event (deposit, transfer, ...) posted as balanced ledger entries."""

    __tablename__ = "journals"

    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    # Encrypted at rest: a transfer's is the payer's free-text reference, which may name
    # people ("dinner with Anna"). Searched by decrypting (accounts.repository).
    description: Mapped[str] = mapped_column(
        EncryptedText(DESCRIPTION_CONTEXT), nullable=False, default=""
    )


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
        Index("ix_ledger_entries_journal_id", "journal_id"),
        # Account history: newest first, keyset-paginated on (booked_at, id); also every
        # lookup by account_id alone (no single-column index: migration 0007).
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
    # Who is on the other side, as this account's owner should see it: a person's (or a
    # merchant's) name and IBAN, encrypted at rest. The first-payment risk rule compares
    # the number's blind index (transfers.repository.has_paid).
    counterparty_name: Mapped[str | None] = mapped_column(
        EncryptedText(NAME_CONTEXT), nullable=True
    )
    counterparty_number: Mapped[str | None] = mapped_column(
        EncryptedText(NUMBER_CONTEXT), nullable=True
    )
    counterparty_number_index: Mapped[str | None] = mapped_column(
        String(INDEX_LENGTH), nullable=True, info=blind_index_of("counterparty_number")
    )
