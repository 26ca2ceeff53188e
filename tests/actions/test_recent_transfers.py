"""`action_recent_transfers` (actions/recent_transfers.py) against a real core_banking."""

from rasa_sdk.executor import CollectingDispatcher

from actions.recent_transfers import ActionRecentTransfers
from actions.transfers import ActionExecuteTransfer
from tests.actions.test_transfers import own_account, responses, slots_for


async def test_the_latest_transfer_comes_first_with_where_it_stands(
    make_tracker, use_core_banking
) -> None:
    bank, user = use_core_banking, "demo002"
    savings = own_account(bank, user, "savings")
    sent = make_tracker(
        text="yes",
        intent="affirm",
        metadata=bank.metadata(user, turn_id="s:recent-1"),
        slots=slots_for(bank, user, "1.23", savings),
    )
    await ActionExecuteTransfer().run(CollectingDispatcher(), sent, {})

    asked = make_tracker(
        text="whats the status of my last transfer",
        intent="recent_transfers",
        metadata=bank.metadata(user),
    )
    dispatcher = CollectingDispatcher()
    assert await ActionRecentTransfers().run(dispatcher, asked, {}) == []
    said = responses(dispatcher)
    assert said[0] == "utter_recent_transfers_intro"
    assert 2 <= len(said) <= 4  # the intro and at most three transfers
    newest = dispatcher.messages[1]
    assert newest["response"] == "utter_recent_transfer_sent"
    assert newest["amount"] == "1.23 EUR"
    assert newest["recipient"] == "your savings account"


async def test_a_guest_is_asked_to_log_in(make_tracker) -> None:
    dispatcher = CollectingDispatcher()
    guest = make_tracker(text="my last transfer", intent="recent_transfers")
    await ActionRecentTransfers().run(dispatcher, guest, {})
    assert responses(dispatcher) == ["utter_login_required"]
