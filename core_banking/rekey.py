"""`python -m core_banking.rekey [--batch-size N]`: move personal data to the current keys
while the service runs: values re-encrypted under the first of DATA_ENCRYPTION_KEYS,
blind indexes recomputed under the first of DATA_INDEX_KEYS.

Which columns: every ``EncryptedText`` column of the models and every blind index
column (``info=blind_index_of(...)``, recomputed from its encrypted column's plaintext).
Each table is walked in keyset batches (id order) of rows with a value not under the
current data key or an index not under the current index key; each batch is one short
transaction that locks its rows ``FOR NO KEY UPDATE SKIP LOCKED`` on PostgreSQL (a row a
request holds is skipped, never waited for; the count of rows left says whether to run
again). The service keeps reading with every listed key meanwhile and writes new values
and indexes under the current ones. Prints one line per table and exits 0 when nothing
is left under another key, 1 otherwise. docs/operations.md has the runbook.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core_banking.db import create_engine
from core_banking.fieldcrypt import LEGACY_INDEX_KID, FieldCipher
from core_banking.models import Base
from core_banking.models.encrypted import EncryptedText, use_settings
from core_banking.settings import get_settings


@dataclass(frozen=True)
class EncryptedTable:
    name: str
    values: list[tuple[str, str]]  # (encrypted column, its context)
    indexes: list[tuple[str, str]]  # (blind index column, the encrypted column it indexes)


@dataclass
class TableCount:
    table: str
    rekeyed: int = 0  # rows rewritten
    left: int = 0  # still under another key (locked by a request during the run)
    indexed: bool = False  # the table has blind indexes


def encrypted_tables() -> list[EncryptedTable]:
    """Every table with encrypted columns, from the models."""
    found = []
    for table in Base.metadata.sorted_tables:
        values = [
            (c.name, c.type.context) for c in table.columns if isinstance(c.type, EncryptedText)
        ]
        indexes = [
            (c.name, c.info["blind_index_of"]) for c in table.columns if "blind_index_of" in c.info
        ]
        if values:
            found.append(EncryptedTable(table.name, values, indexes))
    return found


def _stale(raw: Any, spec: EncryptedTable, cipher: FieldCipher) -> Any:
    """SQL: the row has a value or an index that is not under the current key. ('' is
    no ciphertext: an Idempotency-Key claim whose response is not written yet.)"""
    old_values = [
        sa.and_(
            raw.c[name].is_not(None),
            raw.c[name] != "",
            sa.not_(raw.c[name].startswith(cipher.current_prefix, autoescape=True)),
        )
        for name, _ in spec.values
    ]
    old_indexes = []
    for index, source in spec.indexes:
        if cipher.current_index_kid == LEGACY_INDEX_KID:
            not_current = raw.c[index].contains(":")
        else:
            not_current = sa.not_(
                raw.c[index].startswith(cipher.current_index_prefix, autoescape=True)
            )
        old_indexes.append(
            sa.and_(raw.c[source].is_not(None), sa.or_(raw.c[index].is_(None), not_current))
        )
    return sa.or_(*old_values, *old_indexes)


def _moved(row: Any, spec: EncryptedTable, cipher: FieldCipher) -> dict[str, Any]:
    """The row's values under the current data key and its indexes under the current
    index key (recomputed from the plaintext)."""
    contexts = dict(spec.values)
    stored = {name: row[name] for name in contexts}
    values: dict[str, Any] = {}
    for name, value in stored.items():
        context = contexts[name]
        if value is not None and value != "" and not cipher.is_current(value):
            value = cipher.encrypt(cipher.decrypt(value, context=context), context=context)
        values[name] = value
    for index, source in spec.indexes:
        ciphertext = stored[source]
        values[index] = (
            None
            if ciphertext is None
            else cipher.blind_index(
                cipher.decrypt(ciphertext, context=contexts[source]), context=contexts[source]
            )
        )
    return values


async def rekey_table(
    engine: AsyncEngine, cipher: FieldCipher, spec: EncryptedTable, batch_size: int = 200
) -> TableCount:
    columns = [name for name, _ in spec.values] + [index for index, _ in spec.indexes]
    raw = sa.table(spec.name, sa.column("id"), *(sa.column(name) for name in columns))
    stale = _stale(raw, spec, cipher)
    count, last = TableCount(spec.name, indexed=bool(spec.indexes)), ""
    while True:
        async with engine.begin() as conn:
            query = (
                sa.select(raw).where(raw.c.id > last, stale).order_by(raw.c.id).limit(batch_size)
            )
            if conn.dialect.name == "postgresql":
                # NO KEY UPDATE: no key changes, so rows that reference these (a new
                # ledger entry's journal, a transfer's customer) are not held up.
                query = query.with_for_update(skip_locked=True, key_share=True)
            rows = (await conn.execute(query)).mappings().all()
            updates = [{"row_key": row["id"], **_moved(row, spec, cipher)} for row in rows]
            if updates:  # one executemany per batch, not a round trip per row
                statement = sa.update(raw).where(raw.c.id == sa.bindparam("row_key"))
                await conn.execute(statement, updates)
        if not rows:
            break
        count.rekeyed += len(rows)
        last = rows[-1]["id"]
    async with engine.connect() as conn:
        count.left = int(
            await conn.scalar(sa.select(sa.func.count()).select_from(raw).where(stale)) or 0
        )
    return count


async def rekey(
    engine: AsyncEngine, cipher: FieldCipher, batch_size: int = 200
) -> list[TableCount]:
    return [await rekey_table(engine, cipher, spec, batch_size) for spec in encrypted_tables()]


def report_line(count: TableCount, cipher: FieldCipher) -> str:
    index_key = cipher.current_index_kid or "(no id)"
    indexes = f" (blind indexes under index key {index_key!r})" if count.indexed else ""
    return (
        f"{count.table}: {count.rekeyed} re-encrypted under key {cipher.current_kid!r}"
        f"{indexes}, {count.left} left under other keys"
    )


async def _main(batch_size: int) -> int:
    settings = get_settings()
    cipher = use_settings(settings)
    engine = create_engine(settings)
    try:
        counts = await rekey(engine, cipher, batch_size)
    finally:
        await engine.dispose()
    for c in counts:
        print(f"core_banking.rekey: {report_line(c, cipher)}")
    return 1 if any(c.left for c in counts) else 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=200, help="rows per transaction")
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    sys.exit(asyncio.run(_main(args.batch_size)))


if __name__ == "__main__":
    main()
