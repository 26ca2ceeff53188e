"""drop ix_ledger_entries_account_id: ix_ledger_entries_account_booked leads with it

Every lookup of an account's entries by ``account_id`` alone (and the foreign key's
checks) can use ``ix_ledger_entries_account_booked (account_id, booked_at, id)``; the
single-column index only cost a second index insert for each of a transfer's two
entries (issue 18, the transfer path).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_ledger_entries_account_id", table_name="ledger_entries")


def downgrade() -> None:
    op.create_index("ix_ledger_entries_account_id", "ledger_entries", ["account_id"])
