"""Login throttling on /auth/token (issue 13: 3,059 wrong passwords were all processed).

A real gateway with real Redis; the identity service is the stub core_banking of
conftest (the password check itself is core_banking's, tested there)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
import redis

from gateway.settings import Settings
from tests.gateway.conftest import ServerThread, gateway_server

PROBLEM = "application/problem+json"
WINDOW = 900


@pytest.fixture
def prefix(redis_prefix: str) -> str:
    # Its own key prefix: each test starts with no failures counted.
    return f"{redis_prefix}{uuid.uuid4().hex[:6]}:"


@pytest.fixture
def throttled_gateway(
    make_settings: Callable[..., Settings], prefix: str
) -> Iterator[ServerThread]:
    settings = make_settings(
        redis_key_prefix=prefix, login_window_seconds=WINDOW, login_max_failures_per_ip=70
    )
    with gateway_server(settings) as server:
        yield server


async def login(
    http: httpx.AsyncClient, password: str, username: str = "demo001", **headers: str
) -> httpx.Response:
    return await http.post(
        "/auth/token", data={"username": username, "password": password}, headers=headers
    )


async def test_the_31st_wrong_password_is_refused_until_the_window_ends(
    throttled_gateway: ServerThread, redis_client: redis.Redis, prefix: str
) -> None:
    async with httpx.AsyncClient(base_url=throttled_gateway.url) as http:
        for _ in range(30):
            assert (await login(http, "wrong")).status_code == 401
        refused = await login(http, "wrong")
        assert refused.status_code == 429
        assert refused.headers["content-type"] == PROBLEM
        assert refused.json()["type"].endswith("too-many-login-attempts")
        assert 0 < int(refused.headers["retry-after"]) <= WINDOW
        # Locked means locked: the right password does not get through either.
        assert (await login(http, "demo-password")).status_code == 429
        # The window ends: the counters are Redis keys that expire with it.
        keys = list(redis_client.scan_iter(f"{prefix}login:*"))
        assert len(keys) == 2  # the username's and the address's
        assert all(0 < redis_client.ttl(k) <= WINDOW for k in keys)
        for key in keys:
            redis_client.pexpire(key, 1)
        await asyncio.sleep(0.05)
        assert (await login(http, "demo-password")).status_code == 200


async def test_a_successful_login_clears_the_accounts_count(
    throttled_gateway: ServerThread,
) -> None:
    async with httpx.AsyncClient(base_url=throttled_gateway.url) as http:
        for _ in range(29):
            assert (await login(http, "wrong")).status_code == 401
        assert (await login(http, "demo-password")).status_code == 200
        for _ in range(29):
            assert (await login(http, "wrong")).status_code == 401
        assert (await login(http, "demo-password")).status_code == 200


async def test_one_address_trying_many_usernames_is_refused(
    throttled_gateway: ServerThread,
) -> None:
    async with httpx.AsyncClient(base_url=throttled_gateway.url) as http:
        for n in range(70):
            # A new X-Forwarded-For each time: not believed (FORWARDED_ALLOW_IPS is empty),
            # so the address cannot be chosen to dodge the per-address count.
            response = await login(
                http, "wrong", username=f"user{n}", **{"X-Forwarded-For": f"203.0.113.{n}"}
            )
            assert response.status_code == 401
        assert (await login(http, "wrong", username="someone-else")).status_code == 429
