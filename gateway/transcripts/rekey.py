"""`python -m gateway.transcripts.rekey [--batch-size N]`: re-encrypt transcripts under
the current key (the first of DATA_ENCRYPTION_KEYS) and recompute the customer names'
blind indexes under the current index key (the first of DATA_INDEX_KEYS), while the
gateways run.

Which values: every ``EncryptedText``/``EncryptedJSON`` column of the transcript
tables, whether under an older key or still plaintext (rows from before encryption);
conversations whose name index is missing or under another index key get a new one.
Each table is walked in keyset batches (by primary key) of such rows, one short
transaction per batch, locked ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so the
transcript writer is never waited for (it writes under the current keys anyway).
Prints one line per table and exits 0 when nothing is left under another key, 1
otherwise (run it again). docs/operations.md has the runbook.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.fieldcrypt import LEGACY_INDEX_KID, FieldCipher
from gateway.settings import get_settings
from gateway.transcripts.encrypted import EncryptedJSON, EncryptedText, name_index, use_settings
from gateway.transcripts.model import Base, ChatSession
from gateway.transcripts.schema import TranscriptSchema
from gateway.transcripts.writer import make_engine


@dataclass
class TableCount:
    table: str
    rekeyed: int = 0
    left: int = 0  # still not under the current key (locked during the run)


def _current(column: Any, cipher: FieldCipher) -> Any:
    """SQL: the stored value is under the current key (JSON holds it as a JSON string)."""
    quote = '"' if isinstance(column.type, EncryptedJSON) else ""
    return sa.cast(column, sa.Text).startswith(quote + cipher.current_prefix, autoescape=True)


def _current_index(index: Any, cipher: FieldCipher) -> Any:
    """SQL: the stored blind index is under the current index key."""
    if cipher.current_index_kid == LEGACY_INDEX_KID:  # its indexes are bare hex
        return sa.not_(index.contains(":"))
    return index.startswith(cipher.current_index_prefix, autoescape=True)


def _stale(table: sa.Table, columns: list[Any], cipher: FieldCipher) -> Any:
    conditions = [sa.and_(c.is_not(None), sa.not_(_current(c, cipher))) for c in columns]
    if table is ChatSession.__table__:
        index = ChatSession.__table__.c.customer_name_index
        missing_or_old = sa.or_(index.is_(None), sa.not_(_current_index(index, cipher)))
        conditions.append(
            sa.and_(ChatSession.__table__.c.customer_name.is_not(None), missing_or_old)
        )
    return sa.or_(*conditions)


def encrypted_tables() -> list[tuple[sa.Table, list[Any]]]:
    out = []
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, (EncryptedText, EncryptedJSON))]
        if columns:
            out.append((table, columns))
    return out


async def rekey_table(
    engine: AsyncEngine, cipher: FieldCipher, table: sa.Table, columns: list[Any], batch_size: int
) -> TableCount:
    keys = list(table.primary_key.columns)  # one column, or several (reply_feedback)
    width = len(keys)
    stale = _stale(table, columns, cipher)
    count, last = TableCount(table.name), None
    while True:
        async with engine.begin() as conn:
            query = sa.select(*keys, *columns).where(stale).order_by(*keys).limit(batch_size)
            if last is not None:
                query = query.where(sa.tuple_(*keys) > sa.tuple_(*last))
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            # Read through the column types (plaintext, whichever key or none), written
            # back through them (under the current key).
            rows = (await conn.execute(query)).all()
            updates = []
            for row in rows:
                values = dict(zip((c.name for c in columns), row[width:], strict=True))
                if table is ChatSession.__table__:
                    values["customer_name_index"] = name_index(values["customer_name"])
                row_key = {f"row_key_{i}": row[i] for i in range(width)}
                updates.append({**row_key, **values})
            if updates:  # one executemany per batch, not a round trip per row
                matches = [k == sa.bindparam(f"row_key_{i}") for i, k in enumerate(keys)]
                statement = sa.update(table).where(*matches)
                await conn.execute(statement, updates)
        if not rows:
            break
        count.rekeyed += len(rows)
        last = tuple(rows[-1][:width])
    async with engine.connect() as conn:
        left = await conn.scalar(sa.select(sa.func.count()).select_from(table).where(stale))
        count.left = int(left or 0)
    return count


async def rekey(
    engine: AsyncEngine, cipher: FieldCipher, batch_size: int = 200
) -> list[TableCount]:
    return [
        await rekey_table(engine, cipher, table, columns, batch_size)
        for table, columns in encrypted_tables()
    ]


async def _main(batch_size: int) -> int:
    settings = get_settings()
    cipher = use_settings(settings)
    engine = make_engine(settings.transcript_database_url)
    try:
        await TranscriptSchema(engine).ensure()  # e.g. customer_name_index on old tables
        counts = await rekey(engine, cipher, batch_size)
    finally:
        await engine.dispose()
    index_key = cipher.current_index_kid or "(no id)"
    for c in counts:
        indexes = (
            f" (name indexes under index key {index_key!r})"
            if c.table == ChatSession.__tablename__
            else ""
        )
        print(
            f"gateway.transcripts.rekey: {c.table}: {c.rekeyed} re-encrypted "
            f"under key {cipher.current_kid!r}{indexes}, {c.left} left under other keys"
        )
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
