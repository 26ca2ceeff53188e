from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from core_banking.models.encrypted import EncryptedText
from core_banking.models.base import Base, IdMixin, TimestampMixin


class Customer(IdMixin, TimestampMixin, Base):
    __tablename__ = "customers"

    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    # Personal data: encrypted at rest (models/encrypted.py); never searched by.
    display_name: Mapped[str] = mapped_column(EncryptedText("customers.display_name"), nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
