from __future__ import annotations

from enum import Enum

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from core_banking.models.base import Base, IdMixin, TimestampMixin
from core_banking.models.encrypted import EncryptedText


class StaffRole(str, Enum):
    agent = "agent"
    supervisor = "supervisor"


class StaffUser(IdMixin, TimestampMixin, Base):
    __tablename__ = "staff_users"
    __table_args__ = (CheckConstraint("role IN ('agent', 'supervisor')", name="role"),)

    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    # An employee's name: encrypted at rest like the customers' (never searched by).
    display_name: Mapped[str] = mapped_column(
        EncryptedText("staff_users.display_name"), nullable=False
    )
    # Plain string + CHECK instead of a DB enum type: adding a role is a one-line migration.
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
