from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, validates

from core_banking.fieldcrypt import INDEX_LENGTH
from core_banking.models.base import Base, IdMixin, TimestampMixin
from core_banking.models.encrypted import (
    EncryptedText,
    active_cipher,
    blind_index_of,
    blind_indexes,
)

IBAN_CONTEXT = "payees.iban"


def iban_index(iban: str) -> str:
    """The blind index of an IBAN in electronic form (iban.normalize_iban)."""
    return active_cipher().blind_index(iban, context=IBAN_CONTEXT)


def iban_indexes(iban: str) -> list[str]:
    """Its index under every index key: what a lookup compares during a rotation."""
    return blind_indexes(iban, context=IBAN_CONTEXT)


class Payee(IdMixin, TimestampMixin, Base):
    """A saved transfer recipient of one customer. Name and IBAN are encrypted at rest;
    ``iban_index`` (HMAC of the IBAN) is what uniqueness and lookups compare."""

    __tablename__ = "payees"
    __table_args__ = (
        UniqueConstraint("customer_id", "iban_index", name="uq_payees_customer_id_iban_index"),
        Index("ix_payees_customer_id", "customer_id"),
    )

    customer_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("customers.id", ondelete="RESTRICT"), nullable=False
    )
    name: Mapped[str] = mapped_column(EncryptedText("payees.name"), nullable=False)
    iban: Mapped[str] = mapped_column(EncryptedText(IBAN_CONTEXT), nullable=False)
    iban_index: Mapped[str] = mapped_column(
        String(INDEX_LENGTH), nullable=False, info=blind_index_of("iban")
    )

    @validates("iban")
    def _index_iban(self, key: str, value: str) -> str:
        self.iban_index = iban_index(value)
        return value
