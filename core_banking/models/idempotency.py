from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core_banking.models.base import Base, IdMixin, TimestampMixin, UtcDateTime


class IdempotencyRecord(IdMixin, TimestampMixin, Base):
    """The stored outcome of a request made with an Idempotency-Key.

    Written in the same transaction as the money movement, so "key recorded" and
    "money moved" are one fact: never one without the other.
    """

    __tablename__ = "idempotency_records"
    __table_args__ = (
        UniqueConstraint("customer_id", "key", name="uq_idempotency_records_customer_id_key"),
    )

    customer_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("customers.id", ondelete="RESTRICT"), nullable=False
    )
    key: Mapped[str] = mapped_column(String(255), nullable=False)
    # sha256 of method, path and canonical JSON body.
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    response_status: Mapped[int] = mapped_column(Integer, nullable=False)
    response_body: Mapped[str] = mapped_column(Text, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
