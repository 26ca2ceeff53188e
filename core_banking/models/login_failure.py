from __future__ import annotations

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core_banking.models.base import Base, IdMixin, TimestampMixin


class LoginFailure(IdMixin, TimestampMixin, Base):
    """One failed password check; counted for the login throttle (no Redis here).

    The username is kept as a SHA-256 hash: the table must not become a list of the
    names attackers tried (often passwords typed into the wrong field)."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_username", "username_hash", "created_at"),
        Index("ix_login_failures_ip", "client_ip", "created_at"),
    )

    username_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    client_ip: Mapped[str] = mapped_column(String(64), nullable=False)
