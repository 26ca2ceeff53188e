"""holds (available = balance - active holds), TOTP step-up factors

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
ACTIVE = "status = 'active'"


def upgrade() -> None:
    op.create_table(
        "holds",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("settled_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_holds_positive")),
        sa.CheckConstraint(
            "status IN ('active', 'captured', 'released', 'expired')",
            name=op.f("ck_holds_status"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_holds_account_id_accounts"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holds")),
    )
    op.create_index(
        "ix_holds_active_account",
        "holds",
        ["account_id", "expires_at"],
        postgresql_where=sa.text(ACTIVE),
        sqlite_where=sa.text(ACTIVE),
    )
    op.create_table(
        "step_up_factors",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("last_used_step", sa.BigInteger(), nullable=True),
        sa.Column("activated_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("method IN ('totp')", name=op.f("ck_step_up_factors_method")),
        sa.CheckConstraint(
            "status IN ('pending', 'active')", name=op.f("ck_step_up_factors_status")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_step_up_factors_customer_id_customers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_step_up_factors")),
        sa.UniqueConstraint("customer_id", "method", name="uq_step_up_factors_customer_method"),
    )
    # transfers is referenced by no foreign key, so SQLite's batch copy of it is safe.
    with op.batch_alter_table("transfers") as batch:
        batch.add_column(sa.Column("hold_id", sa.String(36), nullable=True))
        batch.create_foreign_key(
            "fk_transfers_hold_id_holds", "holds", ["hold_id"], ["id"], ondelete="RESTRICT"
        )
    _hold_waiting_transfers()
    with op.batch_alter_table("transfers") as batch:
        batch.drop_column("otp_hash")  # one-time codes gave way to TOTP
        batch.drop_column("otp_expires_at")  # the hold's expires_at
    # available_minor is computed from the holds now (models.account). A native DROP
    # COLUMN (SQLite >= 3.35): a batch copy of accounts would break the foreign keys.
    op.execute("ALTER TABLE accounts DROP COLUMN available_minor")


def _hold_waiting_transfers() -> None:
    """Transfers already waiting for a code reserve their amount until their old expiry."""
    connection = op.get_bind()
    waiting = connection.execute(
        sa.text(
            "SELECT id, from_account_id, amount_minor, currency, otp_expires_at, created_at"
            " FROM transfers WHERE status = 'requires_confirmation'"
        )
    ).all()
    now = datetime.now(timezone.utc)
    for transfer_id, account_id, amount, currency, expires_at, created_at in waiting:
        hold_id = str(uuid.uuid4())
        connection.execute(
            sa.text(
                "INSERT INTO holds (id, account_id, amount_minor, currency, status,"
                " expires_at, created_at) VALUES (:id, :account, :amount, :currency,"
                " 'active', :expires, :created)"
            ),
            {
                "id": hold_id,
                "account": account_id,
                "amount": amount,
                "currency": currency,
                "expires": expires_at or now,
                "created": created_at,
            },
        )
        connection.execute(
            sa.text("UPDATE transfers SET hold_id = :hold WHERE id = :id"),
            {"hold": hold_id, "id": transfer_id},
        )


def downgrade() -> None:
    op.add_column(
        "accounts",
        sa.Column("available_minor", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.execute("UPDATE accounts SET available_minor = balance_minor")
    with op.batch_alter_table("transfers") as batch:
        batch.add_column(sa.Column("otp_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("otp_expires_at", TS, nullable=True))
    op.execute(
        "UPDATE transfers SET otp_expires_at ="
        " (SELECT expires_at FROM holds WHERE holds.id = transfers.hold_id)"
    )
    with op.batch_alter_table("transfers") as batch:
        batch.drop_constraint("fk_transfers_hold_id_holds", type_="foreignkey")
        batch.drop_column("hold_id")
    op.drop_table("step_up_factors")
    op.drop_index("ix_holds_active_account", table_name="holds")
    op.drop_table("holds")
