from __future__ import annotations

from datetime import datetime
from enum import Enum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core_banking.models.base import Base, IdMixin, TimestampMixin, UtcDateTime
from core_banking.models.encrypted import EncryptedText


class GiftCardStatus(str, Enum):
    active = "active"
    blocked = "blocked"


class GiftCard(IdMixin, TimestampMixin, Base):
    """A prepaid gift card. The code itself is never stored: only an HMAC and last4.

    balance_minor of all cards of a currency adds up to the balance of the bank's
    gift_card_liability account in that currency.
    """

    __tablename__ = "gift_cards"
    __table_args__ = (
        CheckConstraint("balance_minor >= 0", name="not_negative"),
        CheckConstraint("status IN ('active', 'blocked')", name="status"),
        Index("ix_gift_cards_purchaser_id", "purchaser_id"),
    )

    purchaser_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("customers.id", ondelete="RESTRICT"), nullable=False
    )
    code_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    last4: Mapped[str] = mapped_column(String(4), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    initial_minor: Mapped[int] = mapped_column(BigInteger, nullable=False)
    balance_minor: Mapped[int] = mapped_column(BigInteger, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    # The recipient's name and the buyer's message: personal data, encrypted at rest.
    recipient_name: Mapped[str | None] = mapped_column(
        EncryptedText("gift_cards.recipient_name"), nullable=True
    )
    message: Mapped[str | None] = mapped_column(EncryptedText("gift_cards.message"), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)


class GiftCardActivity(IdMixin, TimestampMixin, Base):
    """What happened to a card (after Square's GiftCardActivity): activate, redeem, ..."""

    __tablename__ = "gift_card_activities"
    __table_args__ = (Index("ix_gift_card_activities_card", "gift_card_id", "created_at"),)

    gift_card_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("gift_cards.id", ondelete="RESTRICT"), nullable=False
    )
    type: Mapped[str] = mapped_column(String(16), nullable=False)
    amount_minor: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    balance_after_minor: Mapped[int] = mapped_column(BigInteger, nullable=False)
    customer_id: Mapped[str] = mapped_column(String(36), nullable=False)
    journal_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("journals.id", ondelete="RESTRICT"), nullable=True
    )


class CodeLookupFailure(IdMixin, TimestampMixin, Base):
    """One failed gift-card code lookup; counted for the lockout (no Redis here)."""

    __tablename__ = "code_lookup_failures"
    __table_args__ = (
        Index("ix_code_lookup_failures_customer", "customer_id", "created_at"),
        Index("ix_code_lookup_failures_ip", "client_ip", "created_at"),
    )

    customer_id: Mapped[str] = mapped_column(String(36), nullable=False)
    client_ip: Mapped[str] = mapped_column(String(64), nullable=False)
