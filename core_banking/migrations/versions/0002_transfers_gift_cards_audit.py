"""transfers, idempotency, gift cards, audit log; ledger history columns; lost cards

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

from core_banking.system.accounts import (
    CLEARING,
    GIFT_CARD_LIABILITY,
    system_account_number,
    system_code,
)

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
OLD_CARD_STATUS = "status IN ('active', 'frozen', 'cancelled')"
NEW_CARD_STATUS = "status IN ('active', 'frozen', 'cancelled', 'lost', 'stolen')"


def _id() -> sa.Column:
    return sa.Column("id", sa.String(36), nullable=False)


def _created_at() -> sa.Column:
    return sa.Column("created_at", TS, nullable=False)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete="RESTRICT"
    )


def upgrade() -> None:
    _ledger_history_columns()
    _cards_lost_and_stolen()
    _create_tables()
    _system_accounts()


def _ledger_history_columns() -> None:
    with op.batch_alter_table("ledger_entries") as batch:
        batch.add_column(sa.Column("booked_at", TS, nullable=True))
        batch.add_column(sa.Column("balance_after_minor", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("counterparty_name", sa.String(200), nullable=True))
        batch.add_column(sa.Column("counterparty_number", sa.String(34), nullable=True))
    op.execute(
        "UPDATE ledger_entries SET booked_at = "
        "(SELECT j.created_at FROM journals j WHERE j.id = ledger_entries.journal_id)"
    )
    # Running balance per account, in booking order (window functions: PG, SQLite >= 3.25).
    op.execute(
        "UPDATE ledger_entries SET balance_after_minor = (SELECT r.running FROM "
        "(SELECT id, SUM(amount_minor) OVER (PARTITION BY account_id ORDER BY booked_at, id)"
        " AS running FROM ledger_entries) r WHERE r.id = ledger_entries.id)"
    )
    with op.batch_alter_table("ledger_entries") as batch:
        batch.alter_column("booked_at", existing_type=TS, nullable=False)
        batch.alter_column("balance_after_minor", existing_type=sa.BigInteger(), nullable=False)
    op.create_index(
        "ix_ledger_entries_account_booked", "ledger_entries", ["account_id", "booked_at", "id"]
    )


def _cards_lost_and_stolen() -> None:
    with op.batch_alter_table("cards") as batch:
        batch.drop_constraint(op.f("ck_cards_status"), type_="check")
        batch.create_check_constraint("status", NEW_CARD_STATUS)
        batch.add_column(sa.Column("replaced_by_id", sa.String(36), nullable=True))
        batch.create_foreign_key(
            "fk_cards_replaced_by_id_cards",
            "cards",
            ["replaced_by_id"],
            ["id"],
            ondelete="RESTRICT",
        )


def _create_tables() -> None:
    op.create_table(
        "transfers",
        _id(),
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("from_account_id", sa.String(36), nullable=False),
        sa.Column("to_account_id", sa.String(36), nullable=False),
        sa.Column("to_account_number", sa.String(34), nullable=False),
        sa.Column("to_name", sa.String(200), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reference", sa.String(140), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("risk_reasons", sa.String(255), nullable=False),
        sa.Column("journal_id", sa.String(36), nullable=True),
        sa.Column("completed_at", TS, nullable=True),
        sa.Column("otp_hash", sa.String(64), nullable=True),
        sa.Column("otp_expires_at", TS, nullable=True),
        sa.Column("otp_attempts", sa.SmallInteger(), nullable=False),
        _created_at(),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_transfers_positive")),
        sa.CheckConstraint(
            "status IN ('completed', 'requires_confirmation', 'cancelled')",
            name=op.f("ck_transfers_status"),
        ),
        sa.CheckConstraint(
            "kind IN ('own', 'internal', 'external')", name=op.f("ck_transfers_kind")
        ),
        _fk("transfers", "customer_id", "customers"),
        _fk("transfers", "from_account_id", "accounts"),
        _fk("transfers", "to_account_id", "accounts"),
        _fk("transfers", "journal_id", "journals"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfers")),
    )
    op.create_index(
        "ix_transfers_customer_created", "transfers", ["customer_id", "created_at", "id"]
    )

    op.create_table(
        "idempotency_records",
        _id(),
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.Text(), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        _created_at(),
        _fk("idempotency_records", "customer_id", "customers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_records")),
        sa.UniqueConstraint("customer_id", "key", name="uq_idempotency_records_customer_id_key"),
    )

    op.create_table(
        "gift_cards",
        _id(),
        sa.Column("purchaser_id", sa.String(36), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("last4", sa.String(4), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("initial_minor", sa.BigInteger(), nullable=False),
        sa.Column("balance_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("recipient_name", sa.String(200), nullable=True),
        sa.Column("message", sa.String(500), nullable=True),
        sa.Column("expires_at", TS, nullable=False),
        _created_at(),
        sa.CheckConstraint("balance_minor >= 0", name=op.f("ck_gift_cards_not_negative")),
        sa.CheckConstraint("status IN ('active', 'blocked')", name=op.f("ck_gift_cards_status")),
        _fk("gift_cards", "purchaser_id", "customers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gift_cards")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_gift_cards_code_hash")),
    )
    op.create_index("ix_gift_cards_purchaser_id", "gift_cards", ["purchaser_id"])

    op.create_table(
        "gift_card_activities",
        _id(),
        sa.Column("gift_card_id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("balance_after_minor", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("journal_id", sa.String(36), nullable=True),
        _created_at(),
        _fk("gift_card_activities", "gift_card_id", "gift_cards"),
        _fk("gift_card_activities", "journal_id", "journals"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gift_card_activities")),
    )
    op.create_index(
        "ix_gift_card_activities_card", "gift_card_activities", ["gift_card_id", "created_at"]
    )

    op.create_table(
        "code_lookup_failures",
        _id(),
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("client_ip", sa.String(64), nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_code_lookup_failures")),
    )
    op.create_index(
        "ix_code_lookup_failures_customer", "code_lookup_failures", ["customer_id", "created_at"]
    )
    op.create_index(
        "ix_code_lookup_failures_ip", "code_lookup_failures", ["client_ip", "created_at"]
    )

    op.create_table(
        "audit_log",
        _id(),
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("resource_type", sa.String(32), nullable=False),
        sa.Column("resource_id", sa.String(36), nullable=True),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("journal_id", sa.String(36), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("client_ip", sa.String(64), nullable=True),
        sa.Column("detail", sa.String(500), nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_customer", "audit_log", ["customer_id", "created_at"])


def _system_accounts() -> None:
    # EUR is the bank's currency today; other currencies get theirs on first use.
    accounts = sa.table(
        "accounts",
        sa.column("id", sa.String),
        sa.column("customer_id", sa.String),
        sa.column("number", sa.String),
        sa.column("system_code", sa.String),
        sa.column("type", sa.String),
        sa.column("currency", sa.String),
        sa.column("balance_minor", sa.BigInteger),
        sa.column("available_minor", sa.BigInteger),
        sa.column("created_at", TS),
    )
    connection = op.get_bind()
    for purpose in (CLEARING, GIFT_CARD_LIABILITY):
        code = system_code(purpose, "EUR")
        exists = connection.scalar(sa.select(accounts.c.id).where(accounts.c.system_code == code))
        if exists is None:
            op.bulk_insert(
                accounts,
                [
                    {
                        "id": str(uuid.uuid4()),
                        "customer_id": None,
                        "number": system_account_number(purpose, "EUR"),
                        "system_code": code,
                        "type": "internal",
                        "currency": "EUR",
                        "balance_minor": 0,
                        "available_minor": 0,
                        "created_at": datetime.now(timezone.utc),
                    }
                ],
            )


def downgrade() -> None:
    for code in ("clearing:EUR", "gift_card_liability:EUR"):
        # Only if untouched: an account with entries cannot be dropped (RESTRICT).
        op.execute(
            f"DELETE FROM accounts WHERE system_code = '{code}' AND id NOT IN "  # noqa: S608
            "(SELECT account_id FROM ledger_entries)"
        )
    for table in (
        "audit_log",
        "code_lookup_failures",
        "gift_card_activities",
        "gift_cards",
        "idempotency_records",
        "transfers",
    ):
        op.drop_table(table)
    with op.batch_alter_table("cards") as batch:
        batch.drop_constraint("fk_cards_replaced_by_id_cards", type_="foreignkey")
        batch.drop_column("replaced_by_id")
        batch.drop_constraint(op.f("ck_cards_status"), type_="check")
        batch.create_check_constraint("status", OLD_CARD_STATUS)
    op.drop_index("ix_ledger_entries_account_booked", table_name="ledger_entries")
    with op.batch_alter_table("ledger_entries") as batch:
        batch.drop_column("counterparty_number")
        batch.drop_column("counterparty_name")
        batch.drop_column("balance_after_minor")
        batch.drop_column("booked_at")
