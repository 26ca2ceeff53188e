"""Cost of the account-history text search over encrypted entries (decrypt and filter).

    PYTHONPATH=. .venv/bin/python -m bench.history_search [--entries 1000,10000] [--runs 5]

For each size: a scratch PostgreSQL database (dropped afterwards), migrated, with one
demo customer whose checking account gets that many ledger entries (one a day back from
now, every 50th to "Zoe Quartermaine" with her IBAN, the rest card payments at a
merchant), written as the transfer path writes them (encrypted, with blind indexes),
then ANALYZEd. Then ``AccountRepository.history`` computes a first page of 20 as
``GET /v1/accounts/{id}/transactions?q=...`` does: no text (no decryption filter), a
word on every entry, part of Zoe's name (found every 50th entry: the scan reads ~1,000
rows for 20), a word on no entry (the scan reads the whole account), and that word
within 10 % of the days. Prints the median and worst wall-clock time of --runs, the
median CPU time of this process (decryption and matching happen here; the database's
share is in the wall-clock time), and the microseconds per entry read. Then times
migration 0006 down (decrypting) and up again (encrypting every row), and
``core_banking.rekey`` moving every row to a new data key and a new index key (rows/s).
The same script run on a tree from before issue 19's payment encryption (plaintext
rows, SQL ``ILIKE``) gives the figures to compare with (docs/operations.md).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import timedelta

import psycopg
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core_banking import migrate
from core_banking.accounts.repository import AccountRepository, HistoryFilter
from core_banking.db import create_engine, create_sessionmaker
from core_banking.fieldcrypt import new_key_spec
from core_banking.iban import OTHER_BANK_CODE, make_iban
from core_banking.ledger.service import Leg, build_posting
from core_banking.models import Account, Journal, LedgerEntry
from core_banking.models import encrypted as encrypted_columns
from core_banking.models.base import utcnow
from core_banking.rekey import rekey
from core_banking.seed import seed
from core_banking.settings import DEFAULT_DATA_ENCRYPTION_KEYS, DEFAULT_DATA_INDEX_KEY, Settings
from core_banking.system import accounts as system_accounts

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PAGE = 20
ZOE = ("Zoe Quartermaine", make_iban(OTHER_BANK_CODE, "4242424242"))


async def fill(engine: AsyncEngine, settings: Settings, entries: int) -> str:
    """The checking account's id, after `entries` postings on it."""
    factory = create_sessionmaker(engine)
    async with factory() as session, session.begin():
        await seed(session, 1, settings, history=False)
        account = await session.scalar(select(Account).where(Account.type == "checking"))
        clearing = await system_accounts.get_or_create(session, system_accounts.CLEARING, "EUR")
        assert account is not None
        account_id, clearing_id = account.id, clearing.id
    now, balance = utcnow(), 100_000
    for first in range(0, entries, 1_000):  # 1,000 journals per transaction
        journals, rows = [], []
        for n in range(first, min(first + 1_000, entries)):
            party = ZOE if n % 50 == 7 else ("Corner Bakery", None)
            posting = build_posting(
                "transfer" if party is ZOE else "card_payment",
                "Transfer" if party is ZOE else "Card payment CORNER BAKERY",
                [
                    Leg(account_id, -1, "EUR", *party),
                    Leg(clearing_id, 1, "EUR", "Anna Meier", None),
                ],
                {account_id: balance, clearing_id: 0},
                now - timedelta(days=n, minutes=1),
            )
            journals.append(posting.journal)
            rows += posting.entries
        async with engine.begin() as conn:  # through the models: encrypted as written
            await conn.execute(insert(Journal), journals)
            await conn.execute(insert(LedgerEntry), rows)
    return str(account_id)


async def timed(
    engine: AsyncEngine, account_id: str, where: HistoryFilter, runs: int
) -> tuple[float, float, float, int]:
    """Median and worst wall-clock ms, median CPU ms of this process, entries found."""
    took, cpu, found = [], [], 0
    factory = create_sessionmaker(engine)
    for _ in range(runs):
        began, began_cpu = time.perf_counter(), time.process_time()
        async with factory() as session:
            found = len(await AccountRepository(session).history(account_id, PAGE, None, where))
        took.append((time.perf_counter() - began) * 1000)
        cpu.append((time.process_time() - began_cpu) * 1000)
    return statistics.median(took), max(took), statistics.median(cpu), found


async def measure(entries: int, runs: int) -> None:
    name = f"bench_history_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    settings = Settings(database_url=f"postgresql://postgres@127.0.0.1:5432/{name}")
    engine = create_engine(settings)
    try:
        encrypted_columns.use_settings(settings)
        await migrate.upgrade(settings)
        account_id = await fill(engine, settings, entries)
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            conn.execute("ANALYZE")  # as autovacuum would have: the plans of a live database
        recent = utcnow() - timedelta(days=entries // 10)
        cases = {
            "no text (newest 20)": HistoryFilter(),
            "q=bakery (every entry)": HistoryFilter(text="bakery"),
            "q=quarterm (every 50th)": HistoryFilter(text="quarterm"),
            "q=nobody (none: whole account)": HistoryFilter(text="nobody"),
            "q=nobody, 10 % of the days": HistoryFilter(text="nobody", booked_from=recent),
        }
        for label, where in cases.items():
            median, worst, cpu, found = await timed(engine, account_id, where, runs)
            print(
                f"{entries:>7} entries  {label:<32} median {median:7.1f} ms  "
                f"worst {worst:7.1f} ms  CPU {cpu:7.1f} ms  ({found} on the page)"
            )
        median, _, cpu, _ = await timed(engine, account_id, HistoryFilter(text="nobody"), runs)
        print(
            f"{entries:>7} entries  a full scan: {median * 1000 / entries:.1f} µs per entry,"
            f" {cpu * 1000 / entries:.1f} µs of it CPU here (the rest: PostgreSQL, waiting)"
        )

        began = time.perf_counter()
        await migrate.downgrade(settings, "0005")
        down = time.perf_counter() - began
        began = time.perf_counter()
        await migrate.upgrade(settings)
        print(
            f"{entries:>7} entries  migration 0006 down (decrypts) {down:.1f} s,"
            f" up (encrypts, indexes) {time.perf_counter() - began:.1f} s"
        )

        rotated = Settings(
            database_url=settings.database_url,
            data_encryption_keys=f"{new_key_spec('bench2')},{DEFAULT_DATA_ENCRYPTION_KEYS}",
            data_index_keys=new_key_spec("ix2"),
            data_index_key=DEFAULT_DATA_INDEX_KEY,
        )
        cipher = encrypted_columns.use_settings(rotated)
        began = time.perf_counter()
        counts = await rekey(engine, cipher)
        took = time.perf_counter() - began
        rows = sum(c.rekeyed for c in counts)
        print(
            f"{entries:>7} entries  rekey (data and index keys): {rows} rows in {took:.1f} s"
            f" ({rows / took:.0f} rows/s)"
        )
    finally:
        encrypted_columns.use_settings(Settings())
        await engine.dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--entries", default="1000,10000", help="comma separated sizes")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for size in (int(s) for s in args.entries.split(",")):
        asyncio.run(measure(size, args.runs))


if __name__ == "__main__":
    main()
