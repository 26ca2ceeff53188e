"""Small helpers for the API tests: tokens, accounts, problems."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.models import Account
from tests.core_banking.conftest import claims, customer_id

PROBLEM = "application/problem+json"
PROBLEMS = "https://bank.example/problems/"
SessionFactory = Callable[[], AsyncSession]


class Customer:
    """One demo customer as an API caller."""

    def __init__(self, cid: str, token: str) -> None:
        self.id = cid
        self.headers = {"Authorization": f"Bearer {token}"}

    def with_key(self, key: str | None = None) -> dict[str, str]:
        return {**self.headers, "Idempotency-Key": key or str(uuid.uuid4())}


async def login(
    session_factory: SessionFactory, sign: Callable[..., str], username: str
) -> Customer:
    cid = await customer_id(session_factory, username)
    return Customer(cid, sign(claims(cid, username=username)))


async def accounts(client: httpx.AsyncClient, who: Customer) -> dict[str, dict[str, Any]]:
    response = await client.get("/v1/accounts", headers=who.headers)
    assert response.status_code == 200, response.text
    return {a["type"]: a for a in response.json()["data"]}


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEMS + slug, body
    return body


async def total_per_currency(session_factory: SessionFactory) -> dict[str, int]:
    async with session_factory() as s:
        rows = await s.execute(
            select(Account.currency, func.sum(Account.balance_minor)).group_by(Account.currency)
        )
        return {currency: int(total) for currency, total in rows.all()}


async def count(session_factory: SessionFactory, table: str) -> int:
    async with session_factory() as s:
        return int(await s.scalar(text(f"SELECT count(*) FROM {table}")) or 0)


async def system_balance(session_factory: SessionFactory, code: str) -> int:
    async with session_factory() as s:
        value = await s.scalar(select(Account.balance_minor).where(Account.system_code == code))
        return int(value or 0)
