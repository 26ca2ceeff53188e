from __future__ import annotations

from datetime import datetime
from enum import Enum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, SmallInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column

from core_banking.models.base import Base, IdMixin, TimestampMixin, UtcDateTime
from core_banking.models.encrypted import EncryptedText


class TransferStatus(str, Enum):
    completed = "completed"
    # A risk rule fired: the amount is held on the source account until step-up.
    requires_confirmation = "requires_confirmation"
    cancelled = "cancelled"


class TransferKind(str, Enum):
    own = "own"  # between two accounts of the same customer
    internal = "internal"  # to another customer of this bank
    external = "external"  # to another bank, booked to our clearing account


HELD_FILTER = "status = 'requires_confirmation'"


class Transfer(IdMixin, TimestampMixin, Base):
    """A customer's payment order; its money movement is the journal it points to."""

    __tablename__ = "transfers"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="positive"),
        CheckConstraint(
            "status IN ('completed', 'requires_confirmation', 'cancelled')", name="status"
        ),
        CheckConstraint("kind IN ('own', 'internal', 'external')", name="kind"),
        Index("ix_transfers_customer_created", "customer_id", "created_at", "id"),
        # A transfer's daily-limit check sums the customer's held transfers of the day
        # (transfers.usage): few rows, found without reading the completed ones.
        Index(
            "ix_transfers_held_customer",
            "customer_id",
            "created_at",
            postgresql_where=text(HELD_FILTER),
            sqlite_where=text(HELD_FILTER),
        ),
    )

    customer_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("customers.id", ondelete="RESTRICT"), nullable=False
    )
    from_account_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("accounts.id", ondelete="RESTRICT"), nullable=False
    )
    # The account credited: the payee's account here, or our clearing account.
    to_account_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("accounts.id", ondelete="RESTRICT"), nullable=False
    )
    # The payee's IBAN and name as the payer gave or saw them, and the payer's reference
    # (free text): encrypted at rest, never compared in SQL.
    to_account_number: Mapped[str] = mapped_column(
        EncryptedText("transfers.to_account_number"), nullable=False
    )
    to_name: Mapped[str | None] = mapped_column(EncryptedText("transfers.to_name"), nullable=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    amount_minor: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    reference: Mapped[str] = mapped_column(
        EncryptedText("transfers.reference"), nullable=False, default=""
    )
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    risk_reasons: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    journal_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("journals.id", ondelete="RESTRICT"), nullable=True
    )
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # The reservation on the source account while the transfer waits for step-up.
    hold_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("holds.id", ondelete="RESTRICT"), nullable=True
    )
    # Wrong step-up codes entered for this transfer (CONFIRMATION_MAX_ATTEMPTS cancels).
    otp_attempts: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=0)
