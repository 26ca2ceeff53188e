"""SQL statements per transfer, counted on the app's own engine (a SQLAlchemy
`before_cursor_execute` listener; BEGIN/COMMIT and the pool's pre-ping are not statements
here). Each bound is what the code does today: a change that adds a round trip to a
money path fails here and has to say why. `pytest -s` prints the counts
(core_banking/README.md, "Performance")."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from core_banking.iban import OTHER_BANK_CODE, make_iban
from tests.core_banking.conftest import TotpClock
from tests.core_banking.helpers import Customer, SessionFactory, accounts, login

pytestmark = pytest.mark.parametrize("settings", ["postgresql"], indirect=True)

# operation -> the most statements it may take
BOUNDS = {
    # key claim + customer lock, accounts + limit usage, one write (transfers/booking.py)
    "completed transfer": 3,
    # + the risk rules' reads (has this customer paid this IBAN; largest payment) and
    # the step-up factor check
    "held transfer": 5,
    # + the day's completed total (transfers.usage), raised when the money moves
    "confirm": 11,
    "cancel": 4,
}


@contextmanager
def counting(app: FastAPI, into: list[str]) -> Iterator[None]:
    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        into.append(statement.split(None, 1)[0].upper())

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_statements_per_transfer(
    app: FastAPI,
    client: httpx.AsyncClient,
    run_seed: Callable[..., Any],
    session_factory: SessionFactory,
    sign: Callable[..., str],
    totp: TotpClock,
) -> None:
    await run_seed(2)
    me: Customer = await login(session_factory, sign, "demo001")
    other = await login(session_factory, sign, "demo002")
    mine, theirs = await accounts(client, me), await accounts(client, other)
    body = {
        "from_account_id": mine["checking"]["id"],
        "to_account_number": theirs["checking"]["number"],
        "amount_minor": 100,
        "currency": "EUR",
    }
    await client.post("/v1/transfers", json=body, headers=me.with_key())  # warm caches
    counts: dict[str, list[str]] = {name: [] for name in BOUNDS}

    with counting(app, counts["completed transfer"]):
        done = await client.post("/v1/transfers", json=body, headers=me.with_key())
    assert done.json()["status"] == "completed", done.text
    big = {**body, "amount_minor": 30_000, "to_account_number": make_iban(OTHER_BANK_CODE, "9")}
    with counting(app, counts["held transfer"]):
        held = await client.post("/v1/transfers", json=big, headers=me.with_key())
    assert held.json()["status"] == "requires_confirmation", held.text
    with counting(app, counts["confirm"]):
        confirmed = await client.post(
            f"/v1/transfers/{held.json()['id']}/confirm",
            json={"code": totp.code()},
            headers=me.headers,
        )
    assert confirmed.json()["status"] == "completed", confirmed.text
    second = await client.post(
        "/v1/transfers",
        json={**big, "to_account_number": make_iban(OTHER_BANK_CODE, "8")},
        headers=me.with_key(),
    )
    with counting(app, counts["cancel"]):
        cancelled = await client.post(
            f"/v1/transfers/{second.json()['id']}/cancel", headers=me.headers
        )
    assert cancelled.json()["status"] == "cancelled", cancelled.text

    for name, statements in counts.items():
        print(f"{name}: {len(statements)} statements ({' '.join(statements)})")
    assert {name: len(s) for name, s in counts.items()} == {
        name: min(len(counts[name]), bound) for name, bound in BOUNDS.items()
    }
