"""the copies of names and IBANs in payments encrypted at rest

Migration 0005 encrypted customers and payees; their names and IBANs were still copied
in clear into every payment. Encrypted now, with the current DATA_ENCRYPTION_KEYS key:
transfers (payee's IBAN and name, the payer's reference), journals (description: a
transfer's reference), ledger entries (counterparty name and IBAN), stored
Idempotency-Key responses (they repeat a transfer's names and IBANs, a gift card's
recipient), gift cards (recipient's name, message), staff names and the accounts' own
IBANs. Ledger entries get ``counterparty_number_index``, the blind index the
first-payment risk rule compares, and accounts ``number_index``, by which payments find
them and which keeps numbers unique; blind index columns widen for a key id before the
HMAC (``<key id>:<hex>``, rotation of the index keys). Downgrade decrypts.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from core_banking.fieldcrypt import FieldCipher
from core_banking.models.encrypted import cipher_for
from core_banking.settings import get_settings

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1_000
# table -> {encrypted column: its type before}; the context of each is "table.column".
ENCRYPTED: dict[str, dict[str, sa.types.TypeEngine[Any]]] = {
    "transfers": {
        "to_account_number": sa.String(34),
        "to_name": sa.String(200),
        "reference": sa.String(140),
    },
    "journals": {"description": sa.String(255)},
    "ledger_entries": {"counterparty_name": sa.String(200), "counterparty_number": sa.String(34)},
    "idempotency_records": {"response_body": sa.Text()},
    "gift_cards": {"recipient_name": sa.String(200), "message": sa.String(500)},
    "staff_users": {"display_name": sa.String(200)},
    "accounts": {"number": sa.String(34)},
}
# New blind index columns: table -> (the encrypted column indexed, the index column).
INDEXED = {
    "ledger_entries": ("counterparty_number", "counterparty_number_index"),
    "accounts": ("number", "number_index"),
}
INDEX_TYPE, OLD_INDEX_TYPE = sa.String(97), sa.String(64)  # fieldcrypt.INDEX_LENGTH


def _cipher() -> FieldCipher:
    # core_banking.migrate hands over the Settings it runs with; the CLI reads the env.
    settings = context.config.attributes.get("settings") or get_settings()
    return cipher_for(settings)


def _postgresql() -> bool:
    # SQLite ignores VARCHAR lengths, and rebuilding these tables in batch mode would
    # drop tables that other tables' foreign keys point at: types change on PostgreSQL.
    return bool(op.get_bind().dialect.name == "postgresql")


def _unwritten(table: str, value: str | None) -> bool:
    """None, or an Idempotency-Key claim's response not written yet (''): left alone."""
    return value is None or (value == "" and table == "idempotency_records")


def _rewrite(table: str, convert: Callable[[str, str], str]) -> None:
    """Each row's encrypted columns through ``convert(context, value)``, in keyset
    batches, one executemany each."""
    columns = list(ENCRYPTED[table])
    raw = sa.table(table, sa.column("id"), *(sa.column(c) for c in columns))
    last = ""
    while True:
        query = sa.select(raw).where(raw.c.id > last).order_by(raw.c.id).limit(BATCH)
        batch = op.get_bind().execute(query).mappings().all()
        if not batch:
            return
        updates = [
            {
                "row_key": row["id"],
                **{
                    c: row[c] if _unwritten(table, row[c]) else convert(f"{table}.{c}", row[c])
                    for c in columns
                },
            }
            for row in batch
        ]
        op.get_bind().execute(sa.update(raw).where(raw.c.id == sa.bindparam("row_key")), updates)
        last = batch[-1]["id"]


def _index(table: str, cipher: FieldCipher) -> None:
    """The new blind index column of ``table``, from its (now encrypted) source column."""
    source, index = INDEXED[table]
    context_name = f"{table}.{source}"
    raw = sa.table(table, sa.column("id"), sa.column(source), sa.column(index))
    last = ""
    while True:
        query = sa.select(raw.c.id, raw.c[source]).where(raw.c.id > last)
        query = query.where(raw.c[source].is_not(None)).order_by(raw.c.id).limit(BATCH)
        batch = op.get_bind().execute(query).all()
        if not batch:
            return
        updates = [
            {
                "row_key": row_id,
                index: cipher.blind_index(
                    cipher.decrypt(value, context=context_name), context=context_name
                ),
            }
            for row_id, value in batch
        ]
        op.get_bind().execute(sa.update(raw).where(raw.c.id == sa.bindparam("row_key")), updates)
        last = batch[-1][0]


def upgrade() -> None:
    cipher = _cipher()
    if _postgresql():
        for table, columns in ENCRYPTED.items():
            for column, old_type in columns.items():
                if not isinstance(old_type, sa.Text):
                    op.alter_column(table, column, type_=sa.Text(), existing_type=old_type)
        op.alter_column("payees", "iban_index", type_=INDEX_TYPE, existing_type=OLD_INDEX_TYPE)
        # Unique ciphertexts mean nothing: numbers are unique by their blind index now.
        op.drop_constraint("uq_accounts_number", "accounts", type_="unique")
    for table, (_, index) in INDEXED.items():
        op.add_column(table, sa.Column(index, INDEX_TYPE, nullable=True))

    def encrypt(context_name: str, value: str) -> str:
        return cipher.encrypt(value, context=context_name)

    for table in ENCRYPTED:
        _rewrite(table, encrypt)
    for table in INDEXED:
        _index(table, cipher)
    if _postgresql():  # SQLite cannot add NOT NULL to a column without rebuilding
        op.alter_column("accounts", "number_index", nullable=False, existing_type=INDEX_TYPE)
    op.create_index("uq_accounts_number_index", "accounts", ["number_index"], unique=True)


def downgrade() -> None:
    cipher = _cipher()

    def decrypt(context_name: str, value: str) -> str:
        return cipher.decrypt(value, context=context_name)

    for table in ENCRYPTED:
        _rewrite(table, decrypt)
    op.drop_index("uq_accounts_number_index", "accounts")
    for table, (_, index) in INDEXED.items():
        op.drop_column(table, index)  # SQLite (3.35+) drops an unindexed column in place
    if _postgresql():
        # Indexes under a key id do not fit the old width: back to bare ones (as 0005
        # made them, under DATA_INDEX_KEY) is a rekey with that key, not a migration.
        op.alter_column("payees", "iban_index", type_=OLD_INDEX_TYPE, existing_type=INDEX_TYPE)
        for table, columns in ENCRYPTED.items():
            for column, old_type in columns.items():
                if not isinstance(old_type, sa.Text):
                    op.alter_column(table, column, type_=old_type, existing_type=sa.Text())
        op.create_unique_constraint("uq_accounts_number", "accounts", ["number"])
