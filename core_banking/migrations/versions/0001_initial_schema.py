"""initial schema: identity, accounts, double-entry ledger, cards, payees

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column:
    return sa.Column("id", sa.String(36), nullable=False)


def _created_at() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "customers",
        _id(),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("username", name=op.f("uq_customers_username")),
    )
    op.create_table(
        "staff_users",
        _id(),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        _created_at(),
        sa.CheckConstraint("role IN ('agent', 'supervisor')", name=op.f("ck_staff_users_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_users")),
        sa.UniqueConstraint("username", name=op.f("uq_staff_users_username")),
    )
    op.create_table(
        "accounts",
        _id(),
        sa.Column("customer_id", sa.String(36), nullable=True),
        sa.Column("number", sa.String(34), nullable=False),
        sa.Column("system_code", sa.String(64), nullable=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("balance_minor", sa.BigInteger(), nullable=False),
        sa.Column("available_minor", sa.BigInteger(), nullable=False),
        _created_at(),
        sa.CheckConstraint(
            "type IN ('checking', 'savings', 'internal')", name=op.f("ck_accounts_type")
        ),
        sa.CheckConstraint(
            "(type = 'internal') = (customer_id IS NULL)",
            name=op.f("ck_accounts_owner_matches_type"),
        ),
        sa.CheckConstraint("length(currency) = 3", name=op.f("ck_accounts_currency_len")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_accounts_customer_id_customers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("number", name=op.f("uq_accounts_number")),
        sa.UniqueConstraint("system_code", name=op.f("uq_accounts_system_code")),
    )
    op.create_index("ix_accounts_customer_id", "accounts", ["customer_id"])

    op.create_table(
        "journals",
        _id(),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("description", sa.String(255), nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journals")),
    )
    op.create_table(
        "ledger_entries",
        _id(),
        sa.Column("journal_id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.CheckConstraint("amount_minor <> 0", name=op.f("ck_ledger_entries_nonzero")),
        sa.CheckConstraint("length(currency) = 3", name=op.f("ck_ledger_entries_currency_len")),
        sa.ForeignKeyConstraint(
            ["journal_id"],
            ["journals.id"],
            name=op.f("fk_ledger_entries_journal_id_journals"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_ledger_entries_account_id_accounts"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
    )
    op.create_index("ix_ledger_entries_account_id", "ledger_entries", ["account_id"])
    op.create_index("ix_ledger_entries_journal_id", "ledger_entries", ["journal_id"])

    op.create_table(
        "cards",
        _id(),
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("last4", sa.String(4), nullable=False),
        sa.Column("brand", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("expiry_month", sa.SmallInteger(), nullable=False),
        sa.Column("expiry_year", sa.SmallInteger(), nullable=False),
        _created_at(),
        sa.CheckConstraint(
            "status IN ('active', 'frozen', 'cancelled')", name=op.f("ck_cards_status")
        ),
        sa.CheckConstraint("length(last4) = 4", name=op.f("ck_cards_last4_len")),
        sa.CheckConstraint("expiry_month BETWEEN 1 AND 12", name=op.f("ck_cards_expiry_month")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_cards_customer_id_customers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_cards_account_id_accounts"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cards")),
    )
    op.create_index("ix_cards_customer_id", "cards", ["customer_id"])

    op.create_table(
        "payees",
        _id(),
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("iban", sa.String(34), nullable=False),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_payees_customer_id_customers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payees")),
        sa.UniqueConstraint("customer_id", "iban", name="uq_payees_customer_id_iban"),
    )
    op.create_index("ix_payees_customer_id", "payees", ["customer_id"])


def downgrade() -> None:
    # Reverse dependency order; dropping a table drops its indexes with it.
    for table in (
        "payees",
        "cards",
        "ledger_entries",
        "journals",
        "accounts",
        "staff_users",
        "customers",
    ):
        op.drop_table(table)
