"""The password check throttles guessing (issue 13): per username and per client address,
the address being what the gateway saw (``client_ip``), never a forwarded header."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core_banking.app import create_app
from core_banking.models import LoginFailure
from core_banking.settings import Settings
from tests.core_banking.conftest import SERVICE_TOKEN

URL = "/internal/auth/verify"
SERVICE = {"X-Service-Token": SERVICE_TOKEN}
PROBLEM = "application/problem+json"


@pytest.fixture
async def throttled(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """Few tries per address, so the lock is quick to reach."""
    app = create_app(settings.model_copy(update={"login_max_failures_per_ip": 5}))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://core-banking"
    ) as client:
        yield client
    await app.state.engine.dispose()


async def verify(
    client: httpx.AsyncClient,
    password: str,
    username: str = "demo001",
    client_ip: str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"username": username, "password": password}
    if client_ip is not None:
        body["client_ip"] = client_ip
    return await client.post(URL, json=body, headers=SERVICE)


async def test_the_31st_wrong_password_is_refused(seeded: Any, client: httpx.AsyncClient) -> None:
    for n in range(30):
        # From 30 addresses: the per-username count alone locks the account.
        assert (await verify(client, "wrong", client_ip=f"198.51.100.{n}")).status_code == 401
    refused = await verify(client, "wrong", client_ip="198.51.100.200")
    assert refused.status_code == 429
    assert refused.headers["content-type"] == PROBLEM
    assert refused.headers["retry-after"] == "900"
    assert (await verify(client, "demo-password")).status_code == 429
    # Other customers are not locked out by it.
    assert (await verify(client, "demo-password", username="demo002")).status_code == 200


async def test_one_address_is_refused_after_its_failures_and_lets_in_after_the_window(
    seeded: Any, throttled: httpx.AsyncClient, session_factory: Callable[[], AsyncSession]
) -> None:
    for n in range(5):
        response = await verify(throttled, "wrong", username=f"user{n}", client_ip="192.0.2.7")
        assert response.status_code == 401
    assert (await verify(throttled, "demo-password", client_ip="192.0.2.7")).status_code == 429
    # Another address is not affected; nor is the same one once the window has passed.
    assert (await verify(throttled, "demo-password", client_ip="192.0.2.8")).status_code == 200
    # The window passes (LOGIN_WINDOW_SECONDS, 900): the failures age out.
    async with session_factory() as session, session.begin():
        for failure in await session.scalars(select(LoginFailure)):
            failure.created_at -= timedelta(seconds=901)
    assert (await verify(throttled, "demo-password", client_ip="192.0.2.7")).status_code == 200
