"""Which database errors the transaction runner retries (core_banking.dberrors)."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from psycopg import errors as pg_errors
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from core_banking.dberrors import is_connection_lost, is_retryable


def wrap(
    orig: Exception, cls: type[DBAPIError] = OperationalError, invalidated: bool = False
) -> DBAPIError:
    return cls("SELECT 1", {}, orig, connection_invalidated=invalidated)


@pytest.mark.parametrize(
    "error",
    [
        wrap(pg_errors.AdminShutdown("terminating connection due to administrator command")),
        wrap(psycopg.OperationalError("consuming input failed: server closed the connection")),
        wrap(psycopg.OperationalError("whatever"), invalidated=True),
        wrap(pg_errors.ConnectionFailure("connection failure")),
    ],
)
def test_lost_connections_are_retried(error: DBAPIError) -> None:
    assert is_connection_lost(error) and is_retryable(error)


@pytest.mark.parametrize(
    "error",
    [
        wrap(pg_errors.SerializationFailure("could not serialize")),
        wrap(pg_errors.DeadlockDetected("deadlock detected")),
        wrap(pg_errors.UniqueViolation("duplicate key"), IntegrityError),
        wrap(sqlite3.OperationalError("database is locked")),
    ],
)
def test_aborted_transactions_are_retried(error: DBAPIError) -> None:
    assert is_retryable(error) and not is_connection_lost(error)


@pytest.mark.parametrize(
    "error",
    [
        wrap(pg_errors.CheckViolation("violates check constraint"), IntegrityError),
        wrap(pg_errors.UndefinedTable("relation does not exist")),
        wrap(sqlite3.OperationalError("no such table: accounts")),
    ],
)
def test_bugs_are_not_retried(error: DBAPIError) -> None:
    assert not is_retryable(error) and not is_connection_lost(error)
