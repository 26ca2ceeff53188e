"""Holds and TOTP step-up through the HTTP API: a held transfer reserves its amount
(available drops, balance does not) until it completes, is cancelled or expires; expiry
is judged by the database clock when anything reads, with no confirm attempt needed;
cancelled and expired holds leave the daily limit; codes within ±1 step are taken, a
used one is refused; enrolment returns an otpauth:// URI and stores the secret encrypted."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select, text, update

from core_banking.holds import service as holds
from core_banking.iban import OTHER_BANK_CODE, make_iban
from core_banking.models import Hold, StepUpFactor, Transfer
from core_banking.models.base import utcnow
from core_banking.problems import InsufficientFunds
from core_banking.security import Principal
from core_banking.settings import Settings
from core_banking.step_up import crypto
from core_banking.step_up import methods as step_up_methods
from core_banking.transfers import confirmation
from tests.core_banking.conftest import TotpClock
from tests.core_banking.helpers import Customer, SessionFactory, accounts, assert_problem, login

BOTH = pytest.mark.parametrize("settings", ["postgresql", "sqlite"], indirect=True)
POSTGRES = pytest.mark.parametrize("settings", ["postgresql"], indirect=True)


def new_iban(n: int) -> str:
    """An account at another bank this customer never paid: > 200.00 to it is held."""
    return make_iban(OTHER_BANK_CODE, f"77{n:08d}")


@pytest.fixture
async def demo(
    run_seed: Callable[..., Any], session_factory: SessionFactory, sign: Callable[..., str]
) -> list[Customer]:
    await run_seed(3)
    return [await login(session_factory, sign, f"demo00{n}") for n in (1, 2, 3)]


async def send(
    client: httpx.AsyncClient, who: Customer, source: str, number: str, amount: int
) -> httpx.Response:
    body = {
        "from_account_id": source,
        "to_account_number": number,
        "amount_minor": amount,
        "currency": "EUR",
    }
    return await client.post("/v1/transfers", json=body, headers=who.with_key())


async def held_transfer(
    client: httpx.AsyncClient, who: Customer, source: str, amount: int, n: int
) -> dict[str, Any]:
    response = await send(client, who, source, new_iban(n), amount)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "requires_confirmation"
    return dict(response.json())


async def expire(session_factory: SessionFactory, transfer_id: str) -> None:
    """Time passes for one held transfer: its hold's expiry is now in the past."""
    async with session_factory() as s, s.begin():
        hold_id = await s.scalar(select(Transfer.hold_id).where(Transfer.id == transfer_id))
        past = utcnow() - timedelta(seconds=1)
        await s.execute(update(Hold).where(Hold.id == hold_id).values(expires_at=past))


def confirm(client: httpx.AsyncClient, who: Customer, transfer_id: str, code: str) -> Any:
    return client.post(
        f"/v1/transfers/{transfer_id}/confirm", json={"code": code}, headers=who.headers
    )


@BOTH
async def test_a_held_transfer_reserves_its_amount_until_it_completes(
    client: httpx.AsyncClient, demo: list[Customer], totp: TotpClock
) -> None:
    me = demo[0]
    mine = await accounts(client, me)
    checking, savings = mine["checking"], mine["savings"]
    held = await held_transfer(client, me, checking["id"], 30_000, 1)
    now = (await accounts(client, me))["checking"]
    assert (now["balance_minor"], now["available_minor"]) == (100_000, 70_000)
    # Held money can be spent neither by a transfer nor on a gift card.
    too_much = await send(client, me, checking["id"], savings["number"], 70_001)
    assert_problem(too_much, 422, "insufficient-funds")
    card = {"from_account_id": checking["id"], "amount_minor": 70_001, "currency": "EUR"}
    bought = await client.post("/v1/gift-cards", json=card, headers=me.with_key())
    assert_problem(bought, 422, "insufficient-funds")
    assert (await send(client, me, checking["id"], savings["number"], 70_000)).status_code == 201

    done = await confirm(client, me, held["id"], totp.code())
    assert done.status_code == 200 and done.json()["status"] == "completed", done.text
    now = (await accounts(client, me))["checking"]
    assert (now["balance_minor"], now["available_minor"]) == (0, 0)


@BOTH
async def test_an_expired_hold_stops_counting_without_a_confirm_attempt(
    client: httpx.AsyncClient,
    demo: list[Customer],
    session_factory: SessionFactory,
    app: Any,
    totp: TotpClock,
) -> None:
    me = demo[0]
    savings = (await accounts(client, me))["savings"]
    first = await held_transfer(client, me, savings["id"], 400_000, 1)
    second = await held_transfer(client, me, savings["id"], 50_000, 2)
    assert (await accounts(client, me))["savings"]["available_minor"] == 50_000
    # 4,000 + 500 held of today's 5,000: 600 more is over the daily limit.
    over = await send(client, me, savings["id"], new_iban(3), 60_000)
    assert assert_problem(over, 422, "daily-limit-exceeded")["remaining_minor"] == 50_000

    await expire(session_factory, first["id"])
    # Nothing asked to confirm it: reading is enough.
    assert (await accounts(client, me))["savings"]["available_minor"] == 450_000
    assert (await send(client, me, savings["id"], new_iban(3), 60_000)).status_code == 201
    late = await confirm(client, me, first["id"], totp.code())
    assert_problem(late, 422, "confirmation-expired")

    await expire(session_factory, second["id"])
    async with app.state.sessionmaker() as s, s.begin():
        assert await holds.sweep_expired(s) == 1  # the second; the first ended at confirm
    shown = await client.get(f"/v1/transfers/{second['id']}", headers=me.headers)
    assert shown.json()["status"] == "cancelled"
    assert_problem(await confirm(client, me, second["id"], totp.code(1)), 409, "invalid-state")
    async with session_factory() as s:
        audited = await s.scalar(
            text("SELECT count(*) FROM audit_log WHERE action = 'transfer.expired'")
        )
    assert audited == 2
    assert (await accounts(client, me))["savings"]["balance_minor"] == 500_000


@POSTGRES
async def test_a_cancelled_hold_gives_back_the_money_and_the_daily_limit(
    client: httpx.AsyncClient, demo: list[Customer], settings: Settings
) -> None:
    me = demo[0]
    savings = (await accounts(client, me))["savings"]
    held = await held_transfer(client, me, savings["id"], 450_000, 1)
    over = await send(client, me, savings["id"], new_iban(2), 100_000)
    assert assert_problem(over, 422, "daily-limit-exceeded")["remaining_minor"] == 50_000
    cancelled = await client.post(f"/v1/transfers/{held['id']}/cancel", headers=me.headers)
    assert cancelled.json()["status"] == "cancelled"
    assert (await accounts(client, me))["savings"]["available_minor"] == 500_000
    assert (await send(client, me, savings["id"], new_iban(2), 100_000)).status_code == 201


@POSTGRES
async def test_codes_within_one_step_are_taken_and_a_used_code_is_refused(
    client: httpx.AsyncClient, demo: list[Customer], totp: TotpClock
) -> None:
    me = demo[0]
    checking = (await accounts(client, me))["checking"]
    first = await held_transfer(client, me, checking["id"], 25_000, 1)
    second = await held_transfer(client, me, checking["id"], 25_000, 2)
    ok = await confirm(client, me, first["id"], totp.code(-1))  # the app's clock is behind
    assert ok.json()["status"] == "completed", ok.text
    replay = assert_problem(
        await confirm(client, me, second["id"], totp.code(-1)), 422, "invalid-confirmation-code"
    )
    assert replay["reason"] == "code_already_used" and replay["attempts_remaining"] == 3
    too_far = assert_problem(
        await confirm(client, me, second["id"], totp.code(2)), 422, "invalid-confirmation-code"
    )
    assert too_far["attempts_remaining"] == 2 and "reason" not in too_far
    ok = await confirm(client, me, second["id"], totp.code(1))  # the app's clock is ahead
    assert ok.json()["status"] == "completed", ok.text


@POSTGRES
async def test_enrolment_gives_an_otpauth_uri_and_keeps_the_secret_encrypted(
    client: httpx.AsyncClient,
    demo: list[Customer],
    session_factory: SessionFactory,
    settings: Settings,
    totp: TotpClock,
) -> None:
    seeded, me = demo[0], demo[2]
    assert_problem(
        await client.post("/v1/step-up/totp", headers=seeded.headers),
        409,
        "step-up-already-enrolled",
    )
    listed = (await client.get("/v1/step-up", headers=seeded.headers)).json()["data"]
    assert [(f["method"], f["status"]) for f in listed] == [("totp", "active")]

    async with session_factory() as s, s.begin():  # a customer without an app
        await s.execute(delete(StepUpFactor).where(StepUpFactor.customer_id == me.id))
    checking = (await accounts(client, me))["checking"]
    refused = await send(client, me, checking["id"], new_iban(1), 30_000)
    assert_problem(refused, 403, "step-up-required")
    assert (await accounts(client, me))["checking"]["available_minor"] == 100_000

    abandoned = await client.post("/v1/step-up/totp", headers=me.headers)
    enrolled = await client.post("/v1/step-up/totp", headers=me.headers)  # replaces it
    assert enrolled.status_code == 201, enrolled.text
    secret = enrolled.json()["secret"]
    assert secret != abandoned.json()["secret"] and len(secret) == 32  # 160 bits
    assert enrolled.json()["status"] == "pending"
    assert enrolled.json()["otpauth_uri"].startswith(f"otpauth://totp/Bank:demo003?secret={secret}")
    async with session_factory() as s:
        stored = await s.scalar(
            select(StepUpFactor.secret_encrypted).where(StepUpFactor.customer_id == me.id)
        )
    assert stored is not None and secret not in stored
    assert crypto.decrypt(settings, stored) == secret
    # Pending: not yet usable for step-up.
    assert_problem(
        await send(client, me, checking["id"], new_iban(1), 30_000), 403, "step-up-required"
    )

    activate = "/v1/step-up/totp/activate"
    wrong = await client.post(activate, json={"code": totp.wrong()}, headers=me.headers)
    assert_problem(wrong, 422, "invalid-confirmation-code")
    code = totp.code(secret=secret)
    active = await client.post(activate, json={"code": code}, headers=me.headers)
    assert active.status_code == 200 and active.json()["status"] == "active", active.text

    held = await held_transfer(client, me, checking["id"], 30_000, 1)
    used = await confirm(client, me, held["id"], code)  # the activation code is spent
    assert assert_problem(used, 422, "invalid-confirmation-code")["reason"] == "code_already_used"
    done = await confirm(client, me, held["id"], totp.code(1, secret=secret))
    assert done.json()["status"] == "completed", done.text
    again = await client.post("/v1/step-up/totp", headers=me.headers)
    assert_problem(again, 409, "step-up-already-enrolled")


@POSTGRES
async def test_a_hold_expiring_during_its_confirmation_is_not_counted_twice(
    client: httpx.AsyncClient,
    demo: list[Customer],
    session_factory: SessionFactory,
    settings: Settings,
    totp: TotpClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hold expires between the confirmation's first read (it finds the hold active)
    and its funds check under the account lock, and meanwhile another transfer spends
    the money the expired hold no longer reserves. The capture must not count the hold
    as still reserving money: it fails for funds, and no balance goes negative."""
    me = demo[0]
    mine = await accounts(client, me)
    checking, savings = mine["checking"], mine["savings"]
    held = await held_transfer(client, me, checking["id"], 30_000, 1)
    real_verify = step_up_methods.verify

    async def verify_while_time_passes(session: Any, *args: Any) -> Any:
        started = await session.scalar(text("SELECT now()"))  # this transaction's clock
        async with session_factory() as other, other.begin():  # expires right after it
            hold_id = await other.scalar(select(Transfer.hold_id).where(Transfer.id == held["id"]))
            soon = started + timedelta(milliseconds=1)
            await other.execute(update(Hold).where(Hold.id == hold_id).values(expires_at=soon))
        # Another request, later: the hold has expired, so all 1,000.00 are available.
        spent = await send(client, me, checking["id"], savings["number"], 100_000)
        assert spent.status_code == 201, spent.text
        return await real_verify(session, *args)

    monkeypatch.setattr(step_up_methods, "verify", verify_while_time_passes)
    principal = Principal(me.id, frozenset({"customer"}), "demo001", None)
    with pytest.raises(InsufficientFunds):
        async with session_factory() as session, session.begin():
            await confirmation.confirm(session, principal, held["id"], totp.code(), settings, "ip")
    assert (await accounts(client, me))["checking"]["balance_minor"] == 0
