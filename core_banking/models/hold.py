from __future__ import annotations

from datetime import datetime
from enum import Enum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from core_banking.models.base import Base, IdMixin, TimestampMixin, UtcDateTime


class HoldStatus(str, Enum):
    active = "active"  # reserves its amount until expires_at (judged by the database clock)
    captured = "captured"  # the money moved (a journal); reserves nothing any more
    released = "released"  # cancelled (by the customer, or after wrong codes)
    expired = "expired"  # marked by the sweeper; reserved nothing since expires_at


ACTIVE_FILTER = "status = 'active'"


class Hold(IdMixin, TimestampMixin, Base):
    """Money reserved on an account for a payment that is not booked yet (a transfer
    waiting for step-up). available = balance - active, unexpired holds."""

    __tablename__ = "holds"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="positive"),
        CheckConstraint("status IN ('active', 'captured', 'released', 'expired')", name="status"),
        # Only active holds are ever summed: a small partial index per account.
        Index(
            "ix_holds_active_account",
            "account_id",
            "expires_at",
            postgresql_where=text(ACTIVE_FILTER),
            sqlite_where=text(ACTIVE_FILTER),
        ),
    )

    account_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("accounts.id", ondelete="RESTRICT"), nullable=False
    )
    amount_minor: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
