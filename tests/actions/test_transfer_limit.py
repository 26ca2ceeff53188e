"""`action_tell_transfer_limit` ("how much can I send today?") against a real core_banking
over HTTP: the daily limit and what is left of it today come from the bank, and so does
the money available in the account."""

import uuid
from typing import Any

from rasa_sdk.executor import CollectingDispatcher

from actions import core_banking_api
from actions.core_banking_api import NewTransfer
from actions.money import format_money
from actions.transfer_limit import ActionTellTransferLimit


async def told(make_tracker, metadata: dict[str, Any], text: str, **kwargs: Any) -> dict[str, Any]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(text=text, intent="transfer_limit", metadata=metadata, **kwargs)
    assert await ActionTellTransferLimit().run(dispatcher, tracker, {}) == []
    [message] = dispatcher.messages
    return message


async def test_the_limit_what_is_left_today_and_what_the_account_has(
    make_tracker, use_core_banking, nlu
) -> None:
    bank = use_core_banking
    token = bank.token("demo004")
    accounts = {a.type: a for a in await core_banking_api.list_accounts(token)}
    other = (await core_banking_api.list_accounts(bank.token("demo003")))[0]
    before = await core_banking_api.daily_limit(token)
    # 150.00 to someone else counts against the limit; the answer follows the bank's.
    sent = NewTransfer(
        from_account_id=accounts["savings"].id,
        to_account_number=other.number,
        amount_minor=15_000,
        currency="EUR",
        reference="limit test",
    )
    await core_banking_api.create_transfer(token, sent, uuid.uuid4().hex)
    after = await core_banking_api.daily_limit(token)
    assert after.remaining_minor == before.remaining_minor - 15_000
    checking = next(a for a in await core_banking_api.list_accounts(token) if a.type == "checking")

    message = await told(make_tracker, bank.metadata("demo004"), "how much can i send today?")
    assert message["response"] == "utter_transfer_limit_and_available"
    assert message["limit"] == format_money(after.limit_minor, "EUR") == "5,000.00 EUR"
    assert message["remaining"] == format_money(after.remaining_minor, "EUR")
    assert (message["account_label"], message["available"]) == (
        "checking account",
        format_money(checking.available_minor, "EUR"),
    )
    smaller = min(after.remaining_minor, checking.available_minor)
    assert message["can_send"] == format_money(smaller, "EUR")

    text = "how much can I send from my savings today"
    from_savings = await told(make_tracker, bank.metadata("demo004"), text, entities=nlu(text))
    assert from_savings["account_label"] == "savings account"


async def test_a_guest_is_told_there_is_a_limit_and_to_log_in(make_tracker) -> None:
    message = await told(make_tracker, {}, "how much can i send today?")
    assert message["response"] == "utter_transfer_limit_guest"


async def test_the_bank_unreachable_is_said_plainly(
    make_tracker, core_banking, unreachable_core_banking
) -> None:
    message = await told(make_tracker, core_banking.metadata("demo004"), "what's my transfer limit")
    assert message["response"] == "utter_backend_unavailable"
