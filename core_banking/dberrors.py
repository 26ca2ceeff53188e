"""Which database errors are transient: worth retrying the transaction, or a 503.

- 40001 serialization failure, 40P01 deadlock: PostgreSQL aborted the transaction.
- 23505 unique violation: a concurrent first use of an Idempotency-Key (or of a lazily
  created system account); a fresh attempt finds the other's row.
- A lost connection: the backend was terminated (57P01 admin_shutdown, 57P02, 57P03),
  the server restarted, or the socket broke (class 08, or a psycopg OperationalError
  with no SQLSTATE at all; SQLAlchemy flags most as `connection_invalidated`, but not
  one that dies while it is being opened). The pool discards such connections
  (and `db.ping_when_idle` replaces idle ones that died), so a retry gets a fresh one.
- SQLite: "database is locked" (another writer).

Retrying after a lost connection is safe for the money paths because the work is one
transaction: if it did not commit, nothing happened; if the COMMIT reached the server
but its answer was lost, the idempotency record committed with the ledger entries and
the retry replays the stored response instead of moving money again.
"""

from __future__ import annotations

import psycopg
from sqlalchemy.exc import DBAPIError

RETRYABLE_SQLSTATES = frozenset({"40001", "40P01", "23505"})
CONNECTION_LOST_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})


def sqlstate(exc: DBAPIError) -> str | None:
    value = getattr(exc.orig, "sqlstate", None)
    return value if isinstance(value, str) else None


def is_connection_lost(exc: DBAPIError) -> bool:
    if exc.connection_invalidated:
        return True
    state = sqlstate(exc)
    if state is None:
        # psycopg: an error the server did not answer with a SQLSTATE is the connection
        # itself failing, e.g. killed while connecting (before the pool could invalidate).
        return isinstance(exc.orig, psycopg.OperationalError)
    return state in CONNECTION_LOST_SQLSTATES or state.startswith("08")


def is_retryable(exc: DBAPIError) -> bool:
    if sqlstate(exc) in RETRYABLE_SQLSTATES or is_connection_lost(exc):
        return True
    return "database is locked" in str(exc.orig)
