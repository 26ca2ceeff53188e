"""HTTP surface over a real socket: health, widget, /auth/token, /auth/refresh (real Redis)."""

from __future__ import annotations

import asyncio
import hashlib

import httpx
import pytest
import redis
from redis.asyncio import Redis

from gateway.auth.schemas import Identity
from gateway.auth.service import AuthService
from gateway.auth.throttle import LoginThrottle
from gateway.auth.tokens import TokenService
from gateway.health import health
from gateway.problems import InvalidRefreshToken, StoreUnavailable
from tests.gateway.conftest import REDIS_URL, ServerThread, free_port

PROBLEM = "application/problem+json"


async def login(
    base: str, username: str = "demo001", password: str = "demo-password"
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base) as http:
        return await http.post("/auth/token", data={"username": username, "password": password})


async def refresh(base: str, token: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base) as http:
        return await http.post("/auth/refresh", json={"refresh_token": token})


async def test_health(gateway: ServerThread) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_health_without_redis_is_503() -> None:
    dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    with pytest.raises(StoreUnavailable):
        await health(dead)
    await dead.aclose()


async def test_widget_page_and_assets(gateway: ServerThread) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        page = await http.get("/")
        view = await http.get("/static/widget-view.js")
        script = await http.get("/static/widget-connection.js")
        embed = await http.get("/static/widget-embed.js")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert 'id="bank-widget"' in page.text
    for name in ("widget-markdown.js", "widget-view.js", "widget-connection.js", "widget.js"):
        assert f'src="/static/{name}"' in page.text
    # The markup is the view's (shared with the embed).
    for element_id in [
        "username",
        "password",
        "login-button",
        "guest-button",
        "chat-log",
        "message-input",
        "send-button",
    ]:
        assert f'id="{element_id}"' in view.text
    assert 'aria-live="polite"' in view.text
    assert script.status_code == embed.status_code == 200
    assert "crypto.getRandomValues" in script.text  # client_msg_ids, also off secure contexts
    assert "attachShadow" in embed.text


async def test_login_issues_a_verifiable_pair(
    gateway: ServerThread, token_service: TokenService
) -> None:
    response = await login(gateway.url)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    claims = token_service.decode(body["access_token"])
    assert (claims.sub, claims.roles, claims.name, claims.username) == (
        "cust-001",
        ("customer",),
        "Demo One",
        "demo001",
    )
    assert len(body["refresh_token"]) >= 32


async def test_wrong_password_is_401_problem(gateway: ServerThread) -> None:
    response = await login(gateway.url, password="wrong")
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 401
    assert problem["type"].endswith("invalid-credentials")


async def test_core_banking_down_is_503_problem(broken_gateway: ServerThread) -> None:
    response = await login(broken_gateway.url)
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"].endswith("identity-unavailable")


async def test_missing_form_fields_is_422_problem(gateway: ServerThread) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post("/auth/token", data={"username": "x"})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM


async def test_refresh_rotates_and_reuse_is_401(
    gateway: ServerThread,
    token_service: TokenService,
    redis_prefix: str,
    redis_client: redis.Redis,
) -> None:
    first = (await login(gateway.url)).json()
    # Only the hash is stored.
    stored_key = f"{redis_prefix}rt:{hashlib.sha256(first['refresh_token'].encode()).hexdigest()}"
    assert redis_client.exists(stored_key)
    assert 0 < redis_client.ttl(stored_key) <= 1_209_600
    assert not list(redis_client.scan_iter(match=f"*{first['refresh_token']}*"))

    second = await refresh(gateway.url, first["refresh_token"])
    assert second.status_code == 200
    pair = second.json()
    assert pair["refresh_token"] != first["refresh_token"]
    assert token_service.decode(pair["access_token"]).sub == "cust-001"
    assert not redis_client.exists(stored_key)

    reused = await refresh(gateway.url, first["refresh_token"])
    assert reused.status_code == 401
    assert reused.headers["content-type"] == PROBLEM
    assert reused.json()["type"].endswith("invalid-refresh-token")

    assert (await refresh(gateway.url, pair["refresh_token"])).status_code == 200
    assert (await refresh(gateway.url, "never-issued")).status_code == 401


async def test_concurrent_refresh_succeeds_once(
    token_service: TokenService, redis_prefix: str
) -> None:
    """GETDEL makes consumption atomic: two racing refreshes, one winner."""
    redis_async = Redis.from_url(REDIS_URL)
    throttle = LoginThrottle(
        redis_async, key_prefix=redis_prefix, window_seconds=60, max_per_account=30, max_per_ip=100
    )
    service = AuthService(
        tokens=token_service,
        identity=None,  # type: ignore[arg-type]
        redis=redis_async,
        key_prefix=redis_prefix,
        refresh_ttl_seconds=60,
        throttle=throttle,
    )
    pair = await service._issue_pair(
        Identity(subject="c9", username="u", display_name="U", roles=["customer"])
    )
    results = await asyncio.gather(
        *(service.refresh(pair.refresh_token) for _ in range(5)), return_exceptions=True
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, InvalidRefreshToken) for r in results if isinstance(r, Exception))
    await redis_async.aclose()
