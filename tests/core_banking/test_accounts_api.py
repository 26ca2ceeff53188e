from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking import security
from tests.core_banking.conftest import Keys, claims, customer_id, forge_hs256

PROBLEM = "application/problem+json"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_customer_sees_only_own_accounts_checking_first(
    seeded: Any,
    client: httpx.AsyncClient,
    session_factory: Callable[[], AsyncSession],
    sign: Callable[..., str],
) -> None:
    demo1 = await customer_id(session_factory, "demo001")
    demo2 = await customer_id(session_factory, "demo002")

    response = await client.get("/v1/accounts", headers=bearer(sign(claims(demo1))))
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [(a["type"], a["currency"], a["balance_minor"], a["available_minor"]) for a in data] == [
        ("checking", "EUR", 100_000, 100_000),
        ("savings", "EUR", 500_000, 500_000),
    ]
    assert set(data[0]) == {"id", "number", "type", "currency", "balance_minor", "available_minor"}

    other = await client.get("/v1/accounts", headers=bearer(sign(claims(demo2))))
    assert other.status_code == 200
    other_ids = {a["id"] for a in other.json()["data"]}
    assert len(other_ids) == 2
    assert other_ids.isdisjoint({a["id"] for a in data})


async def test_unknown_subject_gets_empty_list_not_someone_elses(
    seeded: Any, client: httpx.AsyncClient, sign: Callable[..., str]
) -> None:
    response = await client.get("/v1/accounts", headers=bearer(sign(claims("no-such-id"))))
    assert response.status_code == 200
    assert response.json() == {"data": []}


def _other_private_key() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.mark.parametrize(
    "make_headers",
    [
        pytest.param(lambda sign, keys: {}, id="no-token"),
        pytest.param(lambda sign, keys: {"Authorization": "Basic ZGVtbzpkZW1v"}, id="basic"),
        pytest.param(lambda sign, keys: bearer("not.a.jwt"), id="garbage"),
        pytest.param(
            lambda sign, keys: bearer(sign(claims("x", exp=1_000_000, iat=999_000))),
            id="expired",
        ),
        pytest.param(lambda sign, keys: bearer(sign(claims("x", aud="other-api"))), id="aud"),
        pytest.param(lambda sign, keys: bearer(sign(claims("x", iss="evil"))), id="iss"),
        pytest.param(lambda sign, keys: bearer(sign(claims("x", jti=None))), id="no-jti"),
        pytest.param(
            lambda sign, keys: bearer(sign(claims("x"), key=_other_private_key())),
            id="wrong-key",
        ),
        pytest.param(
            lambda sign, keys: bearer(forge_hs256(claims("x"), keys.public_path.read_bytes())),
            id="hs256-forged-with-public-key",
        ),
    ],
)
async def test_bad_tokens_get_401_problem(
    make_headers: Callable[..., dict[str, str]],
    client: httpx.AsyncClient,
    sign: Callable[..., str],
    rsa_keys: Keys,
) -> None:
    response = await client.get("/v1/accounts", headers=make_headers(sign, rsa_keys))
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert body["type"] == "https://bank.example/problems/unauthorized"
    assert body["status"] == 401


async def test_staff_token_is_forbidden_on_customer_api(
    client: httpx.AsyncClient, sign: Callable[..., str]
) -> None:
    response = await client.get(
        "/v1/accounts", headers=bearer(sign(claims("staff-id", roles=["agent"])))
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "https://bank.example/problems/forbidden"


async def test_unknown_route_is_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nope")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "https://bank.example/problems/not-found"


async def test_a_chat_turns_delegated_token_works_for_customer_endpoints(
    seeded: Any,
    client: httpx.AsyncClient,
    session_factory: Callable[[], AsyncSession],
    sign: Callable[..., str],
) -> None:
    demo1 = await customer_id(session_factory, "demo001")
    chat = await client.get("/v1/accounts", headers=bearer(sign(claims(demo1, aud="bank-chat"))))
    assert chat.status_code == 200
    assert len(chat.json()["data"]) == 2
    # The gateway delegates customer turns only; any other audience is refused.
    for token in (
        sign(claims("staff-id", aud="bank-chat", roles=["agent"])),
        sign(claims(demo1, aud="someone-else")),
    ):
        response = await client.get("/v1/accounts", headers=bearer(token))
        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    "query",
    [
        "max_amount_minor=9223372036854775808",
        "min_amount_minor=99999999999999999999",
        "max_amount_minor=-1",
        "limit=9223372036854775808",
    ],
)
async def test_out_of_range_integers_in_a_query_are_422(
    seeded: Any,
    client: httpx.AsyncClient,
    session_factory: Callable[[], AsyncSession],
    sign: Callable[..., str],
    query: str,
) -> None:
    headers = bearer(sign(claims(await customer_id(session_factory, "demo001"))))
    account = (await client.get("/v1/accounts", headers=headers)).json()["data"][0]["id"]
    response = await client.get(f"/v1/accounts/{account}/transactions?{query}", headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM


async def test_a_chat_turns_token_cannot_enrol_an_authenticator_app(
    seeded: Any,
    client: httpx.AsyncClient,
    session_factory: Callable[[], AsyncSession],
    sign: Callable[..., str],
) -> None:
    """A delegated (chat) token acts in the chat's tasks, never on how the customer
    proves who they are: a leaked one must not enrol an attacker's app."""
    demo1 = await customer_id(session_factory, "demo001")
    chat = bearer(sign(claims(demo1, aud="bank-chat")))
    for path, body in (
        ("/v1/step-up/totp", None),
        ("/v1/step-up/totp/activate", {"code": "123456"}),
    ):
        response = await client.post(path, json=body, headers=chat)
        assert response.status_code == 403, response.text
        assert response.headers["content-type"] == PROBLEM
    # The customer's own token reaches the endpoint (demo001 is enrolled already: 409).
    own = await client.post("/v1/step-up/totp", headers=bearer(sign(claims(demo1))))
    assert own.status_code == 409, own.text


async def test_a_token_accepted_before_is_refused_once_it_expires(
    client: httpx.AsyncClient,
    seeded: Any,
    session_factory: Callable[[], AsyncSession],
    sign: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Verified tokens are remembered (core_banking.security); expiry is not."""
    token = sign(claims(await customer_id(session_factory, "demo001"), exp=2_000_000_000))
    assert (await client.get("/v1/accounts", headers=bearer(token))).status_code == 200
    monkeypatch.setattr(security.time, "time", lambda: 2_000_000_001.0)
    again = await client.get("/v1/accounts", headers=bearer(token))
    assert again.status_code == 401
    assert again.json()["type"] == "https://bank.example/problems/unauthorized"
