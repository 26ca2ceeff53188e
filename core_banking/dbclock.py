"""`db_now()`: the database's clock in SQL, so expiry is judged by one clock for every
process (the API workers, the sweeper), whatever their hosts' clocks say."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from core_banking.models.base import UtcDateTime


class db_now(FunctionElement[datetime]):
    type = UtcDateTime()
    inherit_cache = True
    name = "db_now"


@compiles(db_now, "postgresql")
def _postgresql(_element: db_now, _compiler: Any, **_kw: Any) -> str:
    # The transaction's start (now()), not each statement's: every read of one
    # transaction agrees on whether a hold has expired. Capturing a hold checks funds as
    # available (read under the account lock) plus the hold itself; were the hold already
    # expired for that read but not for the earlier one that found it active, the money
    # it no longer reserved would be counted twice. A retried transaction gets a new now().
    return "now()"


@compiles(db_now, "sqlite")
def _sqlite(_element: db_now, _compiler: Any, **_kw: Any) -> str:
    # SQLAlchemy stores SQLite datetimes as UTC text 'YYYY-MM-DD HH:MM:SS.ffffff'; this is
    # the same layout (milliseconds), so the text comparison orders like the times do.
    return "strftime('%Y-%m-%d %H:%M:%f', 'now')"
