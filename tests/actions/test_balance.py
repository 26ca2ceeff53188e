"""`action_check_balance` against a real core_banking over HTTP."""

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.balance import ActionCheckBalance
from tests.actions.conftest import sealed_metadata


def responses(dispatcher: CollectingDispatcher) -> list[dict[str, Any]]:
    return dispatcher.messages


async def test_guest_is_asked_to_log_in(make_tracker, dispatcher, use_core_banking) -> None:
    events = await ActionCheckBalance().run(dispatcher, make_tracker(metadata={}), {})
    assert events == []
    assert [m["response"] for m in responses(dispatcher)] == ["utter_login_required"]


async def test_customer_sees_each_account(make_tracker, dispatcher, use_core_banking) -> None:
    customer_id = use_core_banking.customer_id("demo001")
    metadata = sealed_metadata(customer_id, use_core_banking.token("demo001"))
    await ActionCheckBalance().run(dispatcher, make_tracker(metadata=metadata), {})
    messages = responses(dispatcher)
    assert [m["response"] for m in messages] == [
        "utter_balances_intro",
        "utter_account_balance",
        "utter_account_balance",
        "utter_balances_total",
    ]
    balances = [(m["account_label"], m["balance"]) for m in messages[1:3]]
    assert balances == [
        ("Checking account", "1,000.00 EUR"),
        ("Savings account", "5,000.00 EUR"),
    ]
    assert all(m["account_number_masked"].startswith("••••") for m in messages[1:3])
    total = messages[3]
    assert (total["balance"], total["available"]) == ("6,000.00 EUR", "6,000.00 EUR")


async def test_the_account_named_is_the_one_shown(
    make_tracker, dispatcher, use_core_banking
) -> None:
    tracker = make_tracker(
        text="how much is in my savings?",
        metadata=use_core_banking.metadata("demo003"),
        entities=[{"entity": "account_type", "value": "savings"}],
    )
    await ActionCheckBalance().run(dispatcher, tracker, {})
    shown = [
        (m["response"], m.get("account_label"), m.get("balance")) for m in responses(dispatcher)
    ]
    assert shown == [
        ("utter_balances_intro", None, None),
        ("utter_account_balance", "Savings account", "5,000.00 EUR"),
    ]


@pytest.mark.parametrize(
    "text", ["what's my IBAN?", "give me my bank details", "what's my account number"]
)
async def test_asked_for_the_iban_the_account_numbers_are_shown_in_full(
    text: str, make_tracker, dispatcher, use_core_banking
) -> None:
    tracker = make_tracker(text=text, metadata=use_core_banking.metadata("demo001"))
    await ActionCheckBalance().run(dispatcher, tracker, {})
    messages = responses(dispatcher)
    assert [m["response"] for m in messages] == ["utter_account_details"] * 2
    ibans = [m["iban"].replace(" ", "") for m in messages]
    assert all(len(iban) >= 15 and iban[:2].isalpha() for iban in ibans)
    assert [m["account_label"] for m in messages] == ["Checking account", "Savings account"]
    assert all("balance" not in m for m in messages)  # the details, not the money


async def test_expired_token_asks_to_log_in_again(
    make_tracker, dispatcher, use_core_banking
) -> None:
    token = use_core_banking.token("demo001", expires_in=-60)
    metadata = sealed_metadata(use_core_banking.customer_id("demo001"), token)
    await ActionCheckBalance().run(dispatcher, make_tracker(metadata=metadata), {})
    assert [m["response"] for m in responses(dispatcher)] == ["utter_session_expired"]


async def test_backend_down_is_said_plainly(
    make_tracker, dispatcher, unreachable_core_banking
) -> None:
    metadata = sealed_metadata("someone", "a-token")
    await ActionCheckBalance().run(dispatcher, make_tracker(metadata=metadata), {})
    assert [m["response"] for m in responses(dispatcher)] == ["utter_backend_unavailable"]


@pytest.mark.parametrize("forged", ["clear-token", "other-key", "expired", "no-credential"])
async def test_only_the_gateways_sealed_credential_identifies_a_customer(
    forged: str, make_tracker, dispatcher, use_core_banking
) -> None:
    """Issue 13: a tracker forged with someone's ids and a token in clear, a credential
    sealed with another key, or one older than its lifetime, is a guest."""
    customer_id, token = use_core_banking.customer_id("demo001"), use_core_banking.token("demo001")
    metadata = {
        "clear-token": {"customer_id": customer_id, "access_token": token},
        "other-key": sealed_metadata(
            customer_id, token, key="b3RoZXIta2V5LW9mLTMyLWJ5dGVzLWZvci1mZXJuZXQ="
        ),
        "expired": {**sealed_metadata(customer_id, token), "credential": _expired(token)},
        "no-credential": {"customer_id": customer_id},
    }[forged]
    await ActionCheckBalance().run(dispatcher, make_tracker(metadata=metadata), {})
    assert [m["response"] for m in responses(dispatcher)] == ["utter_login_required"]


def _expired(token: str) -> str:
    import json
    import time

    from cryptography.fernet import Fernet

    from actions.settings import DEFAULT_CHAT_CREDENTIAL_KEY

    body = {"v": 1, "sub": "x", "sid": "s", "turn": "s:1", "ip": None, "token": token}
    # Sealed two minutes ago: past the 60 s lifetime.
    return (
        Fernet(DEFAULT_CHAT_CREDENTIAL_KEY.encode())
        .encrypt_at_time(json.dumps(body).encode(), int(time.time()) - 120)
        .decode()
    )


async def test_every_account_named_is_shown(make_tracker, dispatcher, use_core_banking) -> None:
    """ "how much do i have in checking and savings" showed checking only (issue 14)."""
    tracker = make_tracker(
        text="how much do i have in checking and savings",
        metadata=use_core_banking.metadata("demo003"),
        entities=[
            {"entity": "account_type", "value": "checking"},
            {"entity": "account_type", "value": "savings"},
        ],
    )
    await ActionCheckBalance().run(dispatcher, tracker, {})
    labels = [
        m.get("account_label")
        for m in responses(dispatcher)
        if m["response"] == "utter_account_balance"
    ]
    assert labels == ["Checking account", "Savings account"]
