from __future__ import annotations

from enum import Enum

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from core_banking.models.base import Base, IdMixin, TimestampMixin


class CardStatus(str, Enum):
    active = "active"
    frozen = "frozen"
    cancelled = "cancelled"
    lost = "lost"  # permanent; a replacement card is issued
    stolen = "stolen"  # permanent; a replacement card is issued


CARD_STATUS_CHECK = "status IN ('active', 'frozen', 'cancelled', 'lost', 'stolen')"


class Card(IdMixin, TimestampMixin, Base):
    """A payment card. Only last4 is stored: the bank never needs the PAN here."""

    __tablename__ = "cards"
    __table_args__ = (
        CheckConstraint(CARD_STATUS_CHECK, name="status"),
        CheckConstraint("length(last4) = 4", name="last4_len"),
        CheckConstraint("expiry_month BETWEEN 1 AND 12", name="expiry_month"),
        Index("ix_cards_customer_id", "customer_id"),
    )

    customer_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("customers.id", ondelete="RESTRICT"), nullable=False
    )
    account_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("accounts.id", ondelete="RESTRICT"), nullable=False
    )
    last4: Mapped[str] = mapped_column(String(4), nullable=False)
    brand: Mapped[str] = mapped_column(String(32), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False, default="debit")
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=CardStatus.active.value)
    expiry_month: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    expiry_year: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    replaced_by_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("cards.id", ondelete="RESTRICT"), nullable=True
    )
