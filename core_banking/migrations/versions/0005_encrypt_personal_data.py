"""personal data encrypted at rest: customer names, payee names and IBANs

Existing rows are encrypted in place with the current DATA_ENCRYPTION_KEYS key
(core_banking/fieldcrypt.py); payees get ``iban_index`` (blind index) and their
uniqueness moves from the plaintext IBAN to it. Downgrade decrypts them again.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from core_banking.fieldcrypt import FieldCipher
from core_banking.iban import IbanError, normalize_iban
from core_banking.models.encrypted import cipher_for
from core_banking.settings import get_settings

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500
# table -> its encrypted columns; the context of each is "table.column".
ENCRYPTED = {"customers": ("display_name",), "payees": ("name", "iban")}
PLAIN_TYPES = {"display_name": sa.String(200), "name": sa.String(200), "iban": sa.String(34)}


def _cipher() -> FieldCipher:
    # core_banking.migrate hands over the Settings it runs with; the CLI reads the env.
    settings = context.config.attributes.get("settings") or get_settings()
    return cipher_for(settings)


def _raw(table: str, *extra: str) -> Any:
    """The table with plain columns: values as stored, no TypeDecorator in between."""
    return sa.table(table, sa.column("id"), *(sa.column(c) for c in ENCRYPTED[table] + extra))


def _batches(table: str) -> Iterator[list[Any]]:
    """The rows of ``table`` (id and its encrypted columns) in keyset batches of BATCH."""
    raw, last = _raw(table), ""
    while True:
        rows = (
            op.get_bind()
            .execute(sa.select(raw).where(raw.c.id > last).order_by(raw.c.id).limit(BATCH))
            .all()
        )
        if not rows:
            return
        yield list(rows)
        last = rows[-1][0]


def _rewrite(
    table: str, convert: Callable[[str, str], str], cipher: FieldCipher | None = None
) -> None:
    """Each row's encrypted columns through ``convert(context, value)``; with ``cipher``
    (payees on upgrade) also the blind index of the plaintext IBAN."""
    columns = ENCRYPTED[table]
    raw = _raw(table, "iban_index") if cipher is not None else _raw(table)
    for rows in _batches(table):
        for row in rows:
            plain = dict(zip(columns, row[1:], strict=True))
            values = {c: convert(f"{table}.{c}", v) for c, v in plain.items()}
            if cipher is not None:
                values["iban_index"] = _iban_index(cipher, plain["iban"])
            op.get_bind().execute(sa.update(raw).where(raw.c.id == row[0]).values(**values))


def _iban_index(cipher: FieldCipher, plain_iban: str) -> str:
    try:
        iban = normalize_iban(plain_iban)
    except IbanError:  # stored before validation was this strict: indexed as stored
        iban = plain_iban
    return cipher.blind_index(iban, context="payees.iban")


def _retype_customer_name(new: Any, old: Any) -> None:
    # SQLite ignores VARCHAR lengths, and rebuilding customers (batch mode) would drop
    # a table that other tables' foreign keys point at: PostgreSQL only.
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("customers", "display_name", type_=new, existing_type=old)


def upgrade() -> None:
    cipher = _cipher()
    _retype_customer_name(sa.Text(), PLAIN_TYPES["display_name"])
    with op.batch_alter_table("payees") as batch:
        for column in ENCRYPTED["payees"]:
            batch.alter_column(column, type_=sa.Text(), existing_type=PLAIN_TYPES[column])
        batch.add_column(sa.Column("iban_index", sa.String(64), nullable=True))

    def encrypt(context_name: str, value: str) -> str:
        return cipher.encrypt(value, context=context_name)

    _rewrite("customers", encrypt)
    _rewrite("payees", encrypt, cipher)
    with op.batch_alter_table("payees") as batch:
        batch.alter_column("iban_index", existing_type=sa.String(64), nullable=False)
        batch.drop_constraint("uq_payees_customer_id_iban", type_="unique")
        batch.create_unique_constraint(
            "uq_payees_customer_id_iban_index", ["customer_id", "iban_index"]
        )


def downgrade() -> None:
    cipher = _cipher()

    def decrypt(context_name: str, value: str) -> str:
        return cipher.decrypt(value, context=context_name)

    _rewrite("customers", decrypt)
    _rewrite("payees", decrypt)
    with op.batch_alter_table("payees") as batch:
        batch.drop_constraint("uq_payees_customer_id_iban_index", type_="unique")
        batch.drop_column("iban_index")
        for column in ENCRYPTED["payees"]:
            batch.alter_column(column, type_=PLAIN_TYPES[column], existing_type=sa.Text())
        batch.create_unique_constraint("uq_payees_customer_id_iban", ["customer_id", "iban"])
    _retype_customer_name(PLAIN_TYPES["display_name"], sa.Text())
