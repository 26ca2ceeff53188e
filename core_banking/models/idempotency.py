from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core_banking.models.base import Base, IdMixin, TimestampMixin, UtcDateTime
from core_banking.models.encrypted import EncryptedText


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
    # The JSON replayed: a transfer's names and IBANs, a gift card's recipient, so
    # encrypted at rest. '' (not encrypted, nothing in it) only while the claim's
    # transaction is still running; replays read it after that commits.
    response_body: Mapped[str] = mapped_column(
        EncryptedText("idempotency_records.response_body"), nullable=False
    )
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
