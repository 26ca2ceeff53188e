from __future__ import annotations

from datetime import datetime
from enum import Enum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core_banking.models.base import Base, IdMixin, TimestampMixin, UtcDateTime


class StepUpFactorStatus(str, Enum):
    pending = "pending"  # enrolled, not yet proven with a first code
    active = "active"


class StepUpFactor(IdMixin, TimestampMixin, Base):
    """A customer's second factor for step-up (today: a TOTP authenticator app)."""

    __tablename__ = "step_up_factors"
    __table_args__ = (
        UniqueConstraint("customer_id", "method", name="uq_step_up_factors_customer_method"),
        CheckConstraint("method IN ('totp')", name="method"),
        CheckConstraint("status IN ('pending', 'active')", name="status"),
    )

    customer_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("customers.id", ondelete="RESTRICT"), nullable=False
    )
    method: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    # The shared secret, Fernet-encrypted (STEP_UP_ENCRYPTION_KEYS); never stored plain.
    secret_encrypted: Mapped[str] = mapped_column(Text, nullable=False)
    # The last TOTP time step accepted: a code of that step or earlier is a replay.
    last_used_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    activated_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
