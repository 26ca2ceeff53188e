from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core_banking.models.base import Base


class TransferDailyUsage(Base):
    """What a customer's completed non-own transfers created on one (UTC) day add up to:
    the completed part of that day's daily-limit usage, kept as a running total so that
    a transfer reads one row instead of summing every transfer of the day
    (transfers.usage). Written in the same transaction as the transfer's completion."""

    __tablename__ = "transfer_daily_usage"
    __table_args__ = (CheckConstraint("completed_minor >= 0", name="not_negative"),)

    customer_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    completed_minor: Mapped[int] = mapped_column(BigInteger, nullable=False)
