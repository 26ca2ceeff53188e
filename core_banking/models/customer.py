from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from core_banking.models.base import Base, IdMixin, TimestampMixin
from core_banking.models.encrypted import EncryptedText

NAME_CONTEXT = "customers.display_name"


class Customer(IdMixin, TimestampMixin, Base):
    __tablename__ = "customers"

    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    # Personal data: encrypted at rest (models/encrypted.py); never searched by.
    display_name: Mapped[str] = mapped_column(EncryptedText(NAME_CONTEXT), nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)


def name_from_raw(stored: str | None) -> str | None:
    """A display name as hand-written SQL reads it (ciphertext): what the ORM column
    would have given."""
    return EncryptedText(NAME_CONTEXT).process_result_value(stored, None)  # type: ignore[arg-type]
