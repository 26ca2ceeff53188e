"""`python -m core_banking.rekey [--batch-size N]`: re-encrypt personal data under the
current key (the first of DATA_ENCRYPTION_KEYS), while the service runs.

Which columns: every ``EncryptedText`` column of the models. Each table is walked in
keyset batches (id order) of rows whose value does not start with the current key's
prefix; each batch is one short transaction that locks its rows ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL (a row a request holds is skipped, never waited for; the count
of rows left says whether to run again). The service keeps reading both keys meanwhile
and writes new values under the current one. Prints one line per table and exits 0
when nothing is left under another key, 1 otherwise. Blind indexes are not touched
(their key is DATA_INDEX_KEY, not rotated by this). docs/operations.md has the runbook.
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
from core_banking.fieldcrypt import FieldCipher
from core_banking.models import Base
from core_banking.models.encrypted import EncryptedText, use_settings
from core_banking.settings import get_settings


@dataclass
class TableCount:
    table: str
    rekeyed: int = 0
    left: int = 0  # still under another key (locked by a request during the run)


def encrypted_columns() -> dict[str, list[tuple[str, str]]]:
    """table -> [(column, context)] of every encrypted column of the models."""
    found: dict[str, list[tuple[str, str]]] = {}
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, EncryptedText):
                found.setdefault(table.name, []).append((column.name, column.type.context))
    return found


def _stale(raw: Any, columns: list[tuple[str, str]], prefix: str) -> Any:
    return sa.or_(
        *(
            sa.and_(
                raw.c[name].is_not(None), sa.not_(raw.c[name].startswith(prefix, autoescape=True))
            )
            for name, _ in columns
        )
    )


async def rekey_table(
    engine: AsyncEngine,
    cipher: FieldCipher,
    table: str,
    columns: list[tuple[str, str]],
    batch_size: int = 200,
) -> TableCount:
    raw = sa.table(table, sa.column("id"), *(sa.column(name) for name, _ in columns))
    stale = _stale(raw, columns, cipher.current_prefix)
    count, last = TableCount(table), ""
    while True:
        async with engine.begin() as conn:
            query = (
                sa.select(raw).where(raw.c.id > last, stale).order_by(raw.c.id).limit(batch_size)
            )
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = (await conn.execute(query)).all()
            updates = [
                {
                    "row_key": row[0],
                    **{
                        name: cipher.encrypt(cipher.decrypt(value, context=ctx), context=ctx)
                        if value is not None and not cipher.is_current(value)
                        else value
                        for (name, ctx), value in zip(columns, row[1:], strict=True)
                    },
                }
                for row in rows
            ]
            if updates:  # one executemany per batch, not a round trip per row
                statement = sa.update(raw).where(raw.c.id == sa.bindparam("row_key"))
                await conn.execute(statement, updates)
        if not rows:
            break
        count.rekeyed += len(rows)
        last = rows[-1][0]
    async with engine.connect() as conn:
        count.left = int(
            await conn.scalar(sa.select(sa.func.count()).select_from(raw).where(stale)) or 0
        )
    return count


async def rekey(
    engine: AsyncEngine, cipher: FieldCipher, batch_size: int = 200
) -> list[TableCount]:
    return [
        await rekey_table(engine, cipher, table, columns, batch_size)
        for table, columns in encrypted_columns().items()
    ]


async def _main(batch_size: int) -> int:
    settings = get_settings()
    cipher = use_settings(settings)
    engine = create_engine(settings)
    try:
        counts = await rekey(engine, cipher, batch_size)
    finally:
        await engine.dispose()
    for c in counts:
        print(
            f"core_banking.rekey: {c.table}: {c.rekeyed} re-encrypted "
            f"under key {cipher.current_kid!r}, {c.left} left under other keys"
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
