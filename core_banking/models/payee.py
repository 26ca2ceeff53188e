from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core_banking.models.base import Base, IdMixin, TimestampMixin


class Payee(IdMixin, TimestampMixin, Base):
    """A saved transfer recipient of one customer."""

    __tablename__ = "payees"
    __table_args__ = (
        UniqueConstraint("customer_id", "iban", name="uq_payees_customer_id_iban"),
        Index("ix_payees_customer_id", "customer_id"),
    )

    customer_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("customers.id", ondelete="RESTRICT"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    iban: Mapped[str] = mapped_column(String(34), nullable=False)
