from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.app import create_app
from tests.core_banking.conftest import SERVICE_TOKEN, Keys, customer_id, make_settings

PROBLEM = "application/problem+json"
URL = "/internal/auth/verify"
SERVICE = {"X-Service-Token": SERVICE_TOKEN}


async def test_customer_with_right_password_is_verified(
    seeded: Any, client: httpx.AsyncClient, session_factory: Callable[[], AsyncSession]
) -> None:
    response = await client.post(
        URL, json={"username": "demo001", "password": "demo-password"}, headers=SERVICE
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "subject": await customer_id(session_factory, "demo001"),
        "username": "demo001",
        "display_name": "Anna Meier",
        "roles": ["customer"],
    }


async def test_staff_is_verified_with_their_role(seeded: Any, client: httpx.AsyncClient) -> None:
    response = await client.post(
        URL, json={"username": "supervisor1", "password": "staff-password"}, headers=SERVICE
    )
    assert response.status_code == 200
    assert response.json()["roles"] == ["supervisor"]


async def test_wrong_password_and_unknown_user_are_indistinguishable(
    seeded: Any, client: httpx.AsyncClient
) -> None:
    wrong = await client.post(
        URL, json={"username": "demo001", "password": "nope"}, headers=SERVICE
    )
    unknown = await client.post(
        URL, json={"username": "ghost", "password": "nope"}, headers=SERVICE
    )
    staff_wrong = await client.post(
        URL, json={"username": "agent1", "password": "demo-password"}, headers=SERVICE
    )
    for response in (wrong, unknown, staff_wrong):
        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM
    assert wrong.json() == unknown.json() == staff_wrong.json()
    assert wrong.json()["type"] == "https://bank.example/problems/invalid-credentials"


async def test_service_token_is_required(seeded: Any, client: httpx.AsyncClient) -> None:
    body = {"username": "demo001", "password": "demo-password"}
    missing = await client.post(URL, json=body)
    wrong = await client.post(URL, json=body, headers={"X-Service-Token": "dev-service-token"})
    for response in (missing, wrong):
        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM
        assert "subject" not in response.json()


async def test_unknown_fields_are_rejected_as_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        URL,
        json={"username": "demo001", "password": "secret-value", "admin": True},
        headers=SERVICE,
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == "https://bank.example/problems/validation-error"
    assert any(e["loc"][-1] == "admin" for e in body["errors"])
    assert "secret-value" not in response.text  # the password is not echoed back


async def test_health_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_health_reports_unreachable_database(tmp_path: Path, rsa_keys: Keys) -> None:
    # A directory where the SQLite file should be makes every connection attempt fail.
    (tmp_path / "db").mkdir()
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'db'}", rsa_keys))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cb") as client:
        response = await client.get("/health")
    await app.state.engine.dispose()
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "https://bank.example/problems/unavailable"


async def test_unexpected_errors_are_problems_without_internals(
    tmp_path: Path, rsa_keys: Keys
) -> None:
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'x.sqlite3'}", rsa_keys))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://cb") as client:
        response = await client.get("/boom")
    await app.state.engine.dispose()
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "https://bank.example/problems/internal"
    assert "secret" not in response.text
