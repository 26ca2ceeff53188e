"""The transcript tables, created and brought up to date once per process by whoever
needs them first: the transcript writer, or a console request that arrives before it.

Why: the writer prepares the database in the background (it must survive a database
that is down at startup), so a console request right after startup could otherwise
find no tables and answer 503.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import Text, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.fieldcrypt import INDEX_LENGTH
from gateway.transcripts import sessions as summaries
from gateway.transcripts.model import ADDED_COLUMNS, Base


class TranscriptSchema:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._ready = False
        self._lock = asyncio.Lock()

    async def ensure(self) -> None:
        """Create missing tables and columns, and backfill conversation summaries;
        raises ``SQLAlchemyError`` (and is tried again next time) if the database
        cannot be reached."""
        if self._ready:
            return
        async with self._lock:
            if self._ready:
                return
            async with self.engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
                await conn.run_sync(_add_missing_columns)
                dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
                await summaries.backfill(conn, dialect)
            self._ready = True


def _add_missing_columns(conn: Connection) -> None:
    inspector = inspect(conn)
    for table, name, sql_type in ADDED_COLUMNS:
        columns = {c["name"]: c for c in inspector.get_columns(table)}
        if name not in columns:
            conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {sql_type}"))
            if name == "customer_name_index":
                conn.execute(text(f"CREATE INDEX ix_{table}_{name} ON {table} ({name})"))
    # Names became ciphertext, longer than the VARCHAR(200) they first had, and name
    # indexes got a key id before the HMAC, longer than their first VARCHAR(64)
    # (PostgreSQL enforces lengths; SQLite does not).
    if conn.dialect.name != "postgresql":
        return
    # A new inspector: the first one's answers predate the columns just added.
    columns = {c["name"]: c for c in inspect(conn).get_columns("chat_sessions")}
    if not isinstance(columns["customer_name"]["type"], Text):
        conn.execute(text("ALTER TABLE chat_sessions ALTER COLUMN customer_name TYPE TEXT"))
    index_length = getattr(columns["customer_name_index"]["type"], "length", None)
    if index_length is not None and index_length < INDEX_LENGTH:
        conn.execute(
            text(
                "ALTER TABLE chat_sessions ALTER COLUMN customer_name_index"
                f" TYPE VARCHAR({INDEX_LENGTH})"
            )
        )
