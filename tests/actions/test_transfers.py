"""The transfer flow's actions against a real core_banking: destination/amount
extraction and validation, the confirmed execution (exactly once per turn), a declined
summary, insufficient funds, and the step-up with the authenticator app's TOTP code
(computed here from the demo customers' published secret, tests/totp.py)."""

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from rasa_sdk.executor import CollectingDispatcher

from actions.tasks import ActionResetTaskSlots, turn_key
from actions.transfer_amount import ActionAskTransferAmount
from actions.transfer_form import ValidateTransferForm
from actions.transfer_wording import reference_in
from actions.transfers import (
    ActionAskTransferConfirmed,
    ActionCancelTransferTask,
    ActionConfirmTransfer,
    ActionExecuteTransfer,
    ActionRepeatTransfer,
    ValidateOtpForm,
    idempotency_key,
)
from tests.totp import current_code, wrong_code

ROOT = Path(__file__).resolve().parents[2]
DOMAIN: dict[str, Any] = yaml.safe_load((ROOT / "bot" / "domain" / "transfers.yml").read_text())


def responses(dispatcher: CollectingDispatcher) -> list[str]:
    return [m.get("response") for m in dispatcher.messages]


def api(core_banking: Any, username: str, path: str) -> Any:
    headers = {"Authorization": f"Bearer {core_banking.token(username)}"}
    response = httpx.get(f"{core_banking.url}{path}", headers=headers)
    response.raise_for_status()
    return response.json()["data"]


def accounts(core_banking: Any, username: str) -> dict[str, dict[str, Any]]:
    return {a["type"]: a for a in api(core_banking, username, "/v1/accounts")}


def own_account(core_banking: Any, username: str, kind: str) -> dict[str, Any]:
    """The customer's own account as the transfer's destination slot."""
    number = accounts(core_banking, username)[kind]["number"]
    return {"kind": "own", "account_number": number, "label": f"your {kind} account"}


def payee_of(core_banking: Any, username: str, named: str) -> dict[str, Any]:
    """The customer's seeded payee whose name has `named`, as the destination slot."""
    payee = next(p for p in api(core_banking, username, "/v1/payees") if named in p["name"])
    return {
        "kind": "payee",
        "payee_id": payee["id"],
        "account_number": payee["iban"],
        "label": payee["name"],
    }


def rent_payee_of(core_banking: Any, username: str) -> dict[str, Any]:
    """The customer's seeded rent payee, City Housing (rent), as the destination slot."""
    return payee_of(core_banking, username, "rent")


def at_summary(
    core_banking: Any, username: str, amount: str, destination: dict[str, Any]
) -> dict[str, Any]:
    """The transfer form's slots while its summary waits for a yes or no."""
    return {
        **slots_for(core_banking, username, amount, destination, confirmed=None),
        "requested_slot": "transfer_confirmed",
    }


def slots_for(
    core_banking: Any,
    username: str,
    amount: str,
    destination: dict[str, Any],
    confirmed: bool | None = True,
) -> dict[str, Any]:
    checking = accounts(core_banking, username)["checking"]
    source = {
        "id": checking["id"],
        "type": "checking",
        "number": checking["number"],
        "currency": "EUR",
        "available_minor": checking["available_minor"],
        "label": "checking account",
    }
    return {
        "transfer_amount": amount,
        "transfer_currency": "EUR",
        "transfer_source": source,
        "transfer_destination": destination,
        "transfer_confirmed": confirmed,
    }


ASKED_DESTINATION = {"requested_slot": "transfer_destination"}


async def destination_from(
    make_tracker: Any,
    bank: Any,
    dispatcher: CollectingDispatcher,
    text: str,
    intent: str = "inform",
    **tracker_args: Any,
) -> dict[str, Any]:
    """What the transfer form's destination extraction makes of demo001's message."""
    tracker = make_tracker(
        text=text, intent=intent, metadata=bank.metadata("demo001"), **tracker_args
    )
    return await ValidateTransferForm().extract_transfer_destination(dispatcher, tracker, {})


async def test_payee_named_in_the_request_becomes_the_destination(
    make_tracker, dispatcher, use_core_banking
) -> None:
    payee = api(use_core_banking, "demo001", "/v1/payees")[0]
    first_name = payee["name"].split()[0]
    tracker = make_tracker(
        text=f"send 50 to {first_name}",
        intent="transfer_money",
        metadata=use_core_banking.metadata("demo001"),
    )
    found = await ValidateTransferForm().extract_transfer_destination(dispatcher, tracker, {})
    assert found["transfer_destination"]["kind"] == "payee"
    assert found["transfer_destination"]["payee_id"] == payee["id"]


async def test_own_account_and_iban_destinations(
    make_tracker, dispatcher, use_core_banking
) -> None:
    metadata = use_core_banking.metadata("demo001")
    own = make_tracker(
        text="move 100 to my savings",
        intent="transfer_money",
        metadata=metadata,
        entities=[{"entity": "account_type", "value": "savings", "role": "to"}],
    )
    found = await ValidateTransferForm().extract_transfer_destination(dispatcher, own, {})
    assert found["transfer_destination"]["kind"] == "own"
    assert (
        found["transfer_destination"]["account_number"]
        == accounts(use_core_banking, "demo001")["savings"]["number"]
    )
    iban = "DE89370400440532013000"
    external = make_tracker(
        text=f"send 20 to {iban}", metadata=metadata, entities=[{"entity": "iban", "value": iban}]
    )
    found = await ValidateTransferForm().extract_transfer_destination(dispatcher, external, {})
    assert found["transfer_destination"] == {
        "kind": "iban",
        "account_number": iban,
        "label": "IBAN •••• 3000",
    }
    # A name said with it (the NLU's person) is shown with the IBAN.
    named = make_tracker(
        text=f"send 20 to my friend Lisa Müller, her IBAN is {iban}",
        metadata=metadata,
        entities=[
            {"entity": "iban", "value": iban},
            {"entity": "relation", "value": "friend"},
            {"entity": "person", "value": "Lisa Müller"},
        ],
    )
    found = await ValidateTransferForm().extract_transfer_destination(dispatcher, named, {})
    assert found["transfer_destination"]["label"] == "Lisa Müller (IBAN •••• 3000)"


async def test_unknown_destination_when_asked_lists_the_payees(
    make_tracker, dispatcher, use_core_banking
) -> None:
    # The slot is set (empty) so that Rasa keeps the form instead of rejecting the turn
    # to the fallback, which would drop this answer for "Sorry, I didn't get that".
    assert await destination_from(
        make_tracker, use_core_banking, dispatcher, "to Zebediah", slots=ASKED_DESTINATION
    ) == {"transfer_destination": None}
    assert responses(dispatcher) == ["utter_unknown_destination"]


async def test_a_confident_question_where_the_destination_was_asked_is_left_to_the_rules(
    make_tracker, dispatcher, use_core_banking
) -> None:
    # Nothing is set, so Rasa rejects the form on it and the digression rule answers.
    assert (
        await destination_from(
            make_tracker,
            use_core_banking,
            dispatcher,
            "how long does a transfer take",
            "faq",
            slots=ASKED_DESTINATION,
        )
        == {}
    )


@pytest.mark.parametrize("asked", [False, True])
async def test_an_iban_that_fails_its_check_is_said_to_be_invalid(
    asked: bool, make_tracker, dispatcher, use_core_banking
) -> None:
    extracted = await destination_from(
        make_tracker,
        use_core_banking,
        dispatcher,
        "send 50 to DE89 3704 0044 0532 0130 01",
        "transfer_money",
        slots=ASKED_DESTINATION if asked else {},
        entities=[{"entity": "invalid_iban", "value": "DE89370400440532013001"}],
    )
    assert extracted == ({"transfer_destination": None} if asked else {})
    assert responses(dispatcher) == ["utter_invalid_iban"]


async def test_the_form_resuming_after_a_digression_does_not_judge_that_question(
    make_tracker, dispatcher, use_core_banking
) -> None:
    # "who are my payees?" while the destination was asked: its own action answered it,
    # then the form runs again on the same message; that is no unknown name.
    events = [
        {"event": "user", "text": "who are my saved payees"},
        {"event": "action", "name": "action_list_payees"},
        {"event": "bot", "text": "Your saved payees (2):"},
    ]
    assert (
        await destination_from(
            make_tracker,
            use_core_banking,
            dispatcher,
            "who are my saved payees",
            "list_payees",
            slots=ASKED_DESTINATION,
            events=events,
        )
        == {}
    )
    assert responses(dispatcher) == []


@pytest.mark.parametrize(
    "text, unknown",
    [
        ("transfer 90 to anna", True),
        ("send 20 to bob for dinner", True),
        ("pay 15 to zebedee please", True),
        ("i want to send money", False),
        ("i'd like to transfer 50 to my mum", False),
        ("move 20 to savings", False),
        # Between the verb and the amount (it asked who, as if no one was named).
        ("send anna 20", True),
        ("pay tom €15", True),
        ("send money 20", False),
        ("send another 20", False),
    ],
)
async def test_a_lower_case_name_that_ends_the_request_is_said_unknown(
    text: str, unknown: bool, make_tracker, dispatcher, use_core_banking
) -> None:
    # As Rasa runs it: the form starts after the task reset, on the request itself.
    events = [
        {"event": "user", "text": text},
        {"event": "action", "name": "action_reset_task_slots"},
    ]
    assert (
        await destination_from(
            make_tracker, use_core_banking, dispatcher, text, "transfer_money", events=events
        )
        == {}
    )
    assert responses(dispatcher) == (["utter_unknown_destination"] if unknown else [])


@pytest.mark.parametrize("text", ["50", "12,50 EUR", "€ 30"])
async def test_an_amount_where_the_destination_was_asked_is_no_unknown_name(
    text: str, make_tracker, dispatcher, use_core_banking
) -> None:
    assert (
        await destination_from(
            make_tracker, use_core_banking, dispatcher, text, slots=ASKED_DESTINATION
        )
        == {}
    )
    assert responses(dispatcher) == []  # the amount slot takes it; the question comes again


async def test_an_unknown_name_in_the_request_is_said_at_once(
    make_tracker, dispatcher, use_core_banking
) -> None:
    unknown = make_tracker(
        text="I want to pay 25 to Zebedee",
        intent="transfer_money",
        metadata=use_core_banking.metadata("demo001"),
    )
    assert await ValidateTransferForm().extract_transfer_destination(dispatcher, unknown, {}) == {}
    assert responses(dispatcher) == ["utter_unknown_destination"]
    vague = make_tracker(
        text="I want to send money to My friend",
        intent="transfer_money",
        metadata=use_core_banking.metadata("demo001"),
    )
    quiet = CollectingDispatcher()
    assert await ValidateTransferForm().extract_transfer_destination(quiet, vague, {}) == {}
    assert responses(quiet) == []


@pytest.mark.parametrize(
    "text, whole",
    [
        ("all of it", True),
        ("everything", True),
        ("the whole balance", True),
        ("all the money", True),
        ("all of them?", False),
        ("is that all", False),
    ],
)
async def test_all_of_it_is_the_sources_whole_available_balance(
    text: str, whole: bool, make_tracker, dispatcher, use_core_banking
) -> None:
    slots = {
        **slots_for(use_core_banking, "demo001", "0", {"kind": "own"}, None),
        "transfer_amount": None,
        "requested_slot": "transfer_amount",
    }
    available = slots["transfer_source"]["available_minor"]
    tracker = make_tracker(
        text=text, intent="affirm", slots=slots, metadata=use_core_banking.metadata("demo001")
    )
    extracted = await ValidateTransferForm().extract_transfer_amount(dispatcher, tracker, {})
    if whole:
        assert extracted == {
            "transfer_amount": f"{available // 100}.{available % 100:02d}",
            "transfer_currency": None,
        }
    else:
        assert extracted == {}


@pytest.mark.parametrize(
    ("text", "payee"),
    [
        ("I need to pay my rent", "City Housing (rent)"),
        ("pay the energy bill, 40 euros", "Alpine Energy AG"),
        ("send money to the bank", None),  # request words pick no payee
    ],
)
async def test_a_word_of_one_payees_name_names_it(
    text: str, payee: str | None, make_tracker, dispatcher, use_core_banking
) -> None:
    extracted = await destination_from(
        make_tracker, use_core_banking, dispatcher, text, "transfer_money"
    )
    assert (extracted.get("transfer_destination") or {}).get("label") == payee


@pytest.mark.parametrize(
    ("text", "warned"),
    [
        ("send 25 to savings tomorrow", True),
        ("pay Anna 30 next Friday", True),
        ("set up a monthly transfer of 50", True),
        ("send 25 to savings", False),
    ],
)
async def test_a_transfer_for_later_is_told_it_goes_now(
    text: str, warned: bool, make_tracker, dispatcher, use_core_banking
) -> None:
    tracker = make_tracker(
        text=text, intent="transfer_money", metadata=use_core_banking.metadata("demo001")
    )
    await ValidateTransferForm().extract_transfer_amount(dispatcher, tracker, {})
    assert responses(dispatcher) == (["utter_transfer_now_only"] if warned else [])


async def test_a_number_in_the_reference_is_not_the_amount(
    make_tracker, dispatcher, use_core_banking
) -> None:
    slots = {
        **slots_for(use_core_banking, "demo001", "50", {"kind": "own"}, None),
        "requested_slot": "transfer_confirmed",
    }
    text = "reference invoice 42"
    tracker = make_tracker(
        text=text,
        intent="inform",
        slots=slots,
        metadata=use_core_banking.metadata("demo001"),
        entities=[{"entity": "amount", "value": "42", "start": 18, "end": 20}],
    )
    extracted = await ValidateTransferForm().extract_transfer_amount(dispatcher, tracker, {})
    assert extracted == {"transfer_reference": "invoice 42"}  # the amount stays 50
    with_amount = make_tracker(
        text="make it 60, reference invoice 42",
        intent="inform",
        slots=slots,
        metadata=use_core_banking.metadata("demo001"),
        entities=[
            {"entity": "amount", "value": "60", "start": 8},
            {"entity": "amount", "value": "42", "start": 30},
        ],
    )
    changed = await ValidateTransferForm().extract_transfer_amount(dispatcher, with_amount, {})
    assert changed["transfer_amount"] == "60"
    assert changed["transfer_reference"] == "invoice 42"


def amount_entities(text: str, *values: str) -> list[dict[str, Any]]:
    """`amount` entities at each value's first place in `text`, as the NLU gives them."""
    found, start = [], 0
    for value in values:
        start = text.index(value, start)
        found.append(
            {"entity": "amount", "value": value, "start": start, "end": start + len(value)}
        )
        start += len(value)
    return found


@pytest.mark.parametrize(
    ("text", "values", "meant"),
    [
        ("send 5 euros to savings. actually no, make it 7", ("5", "7"), "7"),
        ("send 100 to savings, wait, 200", ("100", "200"), "200"),
        ("send 50 not 500 to savings", ("50", "500"), "50"),
        ("send 40 to savings, reference room 12", ("40",), "40"),
    ],
)
async def test_the_request_s_own_correction_gives_the_amount(
    text: str, values: tuple[str, ...], meant: str, make_tracker, dispatcher
) -> None:
    """An amount after words of change in the same message replaces the one before it
    (the summary said 5.00 EUR and sent it); one ruled out with "not" never counts."""
    tracker = make_tracker(
        text=text, intent="transfer_money", entities=amount_entities(text, *values)
    )
    extracted = await ValidateTransferForm().extract_transfer_amount(dispatcher, tracker, {})
    assert extracted["transfer_amount"] == meant


async def test_not_the_old_amount_then_the_new_one_at_the_summary_corrects_it(
    make_tracker, dispatcher, use_core_banking
) -> None:
    destination = {"kind": "own", "account_number": "x", "label": "your savings"}
    slots = at_summary(use_core_banking, "demo001", "500", destination)
    text = "no, not 500 - 50"
    tracker = make_tracker(
        text=text,
        intent="deny",
        slots=slots,
        metadata=use_core_banking.metadata("demo001"),
        entities=amount_entities(text, "500", "50"),
    )
    extracted = await ValidateTransferForm().extract_transfer_amount(dispatcher, tracker, {})
    assert extracted["transfer_amount"] == "50"
    assert extracted["transfer_confirmed"] is None


@pytest.mark.parametrize("amount", ["-5", "20.999"])
async def test_a_negative_amount_or_too_many_decimals_is_refused(
    amount: str, make_tracker, dispatcher, use_core_banking
) -> None:
    slots = slots_for(use_core_banking, "demo001", "0", {"kind": "own"}, None)
    tracker = make_tracker(metadata=use_core_banking.metadata("demo001"), slots=slots)
    assert await ValidateTransferForm().validate_transfer_amount(
        amount, dispatcher, tracker, {}
    ) == {"transfer_amount": None}
    assert responses(dispatcher) == ["utter_invalid_amount"]


async def test_amount_is_checked_against_available_balance(
    make_tracker, dispatcher, use_core_banking
) -> None:
    slots = slots_for(use_core_banking, "demo001", "0", {"kind": "own"}, None)
    tracker = make_tracker(metadata=use_core_banking.metadata("demo001"), slots=slots)
    form = ValidateTransferForm()
    assert await form.validate_transfer_amount("0", dispatcher, tracker, {}) == {
        "transfer_amount": None
    }
    # Too much is remembered, for "take it from savings then" (issue 14).
    assert await form.validate_transfer_amount("1000000", dispatcher, tracker, {}) == {
        "transfer_amount": None,
        "transfer_refused_amount": "1000000",
    }
    assert await form.validate_transfer_amount("12.50", dispatcher, tracker, {}) == {
        "transfer_amount": "12.50",
        "transfer_currency": "EUR",
    }
    assert responses(dispatcher) == ["utter_invalid_amount", "utter_amount_over_available"]


async def test_a_new_amount_at_the_summary_corrects_it_and_asks_again(
    make_tracker, dispatcher, use_core_banking
) -> None:
    destination = {"kind": "own", "account_number": "x", "label": "your savings"}
    slots = {
        **slots_for(use_core_banking, "demo001", "50", destination, False),
        "requested_slot": "transfer_confirmed",
    }
    form = ValidateTransferForm()
    corrected = make_tracker(
        text="no, make it 60 euros",
        intent="deny",
        slots=slots,
        metadata=use_core_banking.metadata("demo001"),
        entities=[{"entity": "amount", "value": "60"}, {"entity": "currency", "value": "EUR"}],
    )
    assert await form.extract_transfer_amount(dispatcher, corrected, {}) == {
        "transfer_amount": "60",
        "transfer_currency": "EUR",
        "transfer_confirmed": None,
    }
    repeated = make_tracker(
        text="yes, 50",
        intent="affirm",
        slots=slots,
        entities=[{"entity": "amount", "value": "50"}],
        metadata=use_core_banking.metadata("demo001"),
    )
    assert await form.extract_transfer_amount(dispatcher, repeated, {}) == {}
    mid_form = make_tracker(
        text="to savings, 70",
        intent="inform",
        slots={**slots, "requested_slot": "transfer_destination"},
        entities=[{"entity": "amount", "value": "70"}],
        metadata=use_core_banking.metadata("demo001"),
    )
    assert await form.extract_transfer_amount(dispatcher, mid_form, {}) == {}


async def test_a_changed_amount_said_while_the_recipient_is_asked_replaces_it(
    make_tracker, dispatcher, nlu, use_core_banking
) -> None:
    """ "i want to send 20 euros" -> who to? -> "wait make that 25. to savings": the
    summary must show 25.00 EUR, not the 20 first said."""
    text = "wait make that 25. to savings"
    changed = make_tracker(
        text=text,
        intent="inform",
        slots={"transfer_amount": "20", "requested_slot": "transfer_destination"},
        entities=nlu(text),
        metadata=use_core_banking.metadata("demo001"),
    )
    extracted = await ValidateTransferForm().extract_transfer_amount(dispatcher, changed, {})
    assert extracted["transfer_amount"] == "25"


async def test_confirmed_transfer_runs_once_per_turn(make_tracker, use_core_banking) -> None:
    savings = accounts(use_core_banking, "demo002")["savings"]
    destination = {"kind": "own", "account_number": savings["number"], "label": "your savings"}
    before = accounts(use_core_banking, "demo002")
    tracker = make_tracker(
        text="yes",
        intent="affirm",
        message_id="turn-42",
        metadata=use_core_banking.metadata("demo002"),
        slots=slots_for(use_core_banking, "demo002", "25.50", destination),
    )
    for _ in range(2):  # Rasa retrying the same action for the same turn
        dispatcher = CollectingDispatcher()
        events = await ActionExecuteTransfer().run(dispatcher, tracker, {})
        assert responses(dispatcher) == ["utter_transfer_done"]
        assert dispatcher.messages[0]["amount"] == "25.50 EUR"
        assert ("transfer_amount", None) in [(e.get("name"), e.get("value")) for e in events]
    after = accounts(use_core_banking, "demo002")
    assert after["checking"]["balance_minor"] == before["checking"]["balance_minor"] - 2550
    assert after["savings"]["balance_minor"] == before["savings"]["balance_minor"] + 2550


async def test_a_gateway_retry_of_the_confirming_turn_makes_one_transfer(
    make_tracker, use_core_banking
) -> None:
    # The gateway retried the turn after a timeout: Rasa gave the second HTTP call a new
    # message_id, but the turn's identity (session_id:client_msg_id) is the same.
    savings = accounts(use_core_banking, "demo003")["savings"]
    destination = {"kind": "own", "account_number": savings["number"], "label": "your savings"}
    before = accounts(use_core_banking, "demo003")
    slots = slots_for(use_core_banking, "demo003", "12.34", destination)
    turn = {**use_core_banking.metadata("demo003"), "turn_id": "session-7:client-msg-19"}
    ids = []
    for message_id in ("rasa-message-1", "rasa-message-2"):
        dispatcher = CollectingDispatcher()
        tracker = make_tracker(
            text="yes", intent="affirm", message_id=message_id, metadata=turn, slots=slots
        )
        await ActionExecuteTransfer().run(dispatcher, tracker, {})
        assert responses(dispatcher) == ["utter_transfer_done"]
        ids.append(dispatcher.messages[0]["transfer_reference"])
    assert ids[0] == ids[1]
    after = accounts(use_core_banking, "demo003")
    assert after["checking"]["balance_minor"] == before["checking"]["balance_minor"] - 1234
    assert after["savings"]["balance_minor"] == before["savings"]["balance_minor"] + 1234


@pytest.mark.parametrize(
    ("text", "reference"),
    [
        ("transfer 20 to City Housing with reference rent november", "rent november"),
        ("pay 12.50 to Alpine Energy, ref: INV-2291", "INV-2291"),
        ('send 30 to my savings with the reference "holiday fund".', "holiday fund"),
        ("memo - birthday present", "birthday present"),
        ("send 50 to my savings", None),
        ("what is the reference?", None),
        # Said before the word (it was "erence", the rest of "reference").
        ("actually no, make it 25 and put rent as the reference", "rent"),
        ("pay alpine 40, use INV 7 as ref", "INV 7"),
        ("put the rent in the reference", None),
    ],
)
def test_reference_in_the_request(text: str, reference: str | None) -> None:
    assert reference_in(text) == reference


async def test_the_customers_reference_is_confirmed_and_sent(
    make_tracker, use_core_banking
) -> None:
    savings = accounts(use_core_banking, "demo002")["savings"]
    destination = {"kind": "own", "account_number": savings["number"], "label": "your savings"}
    metadata = use_core_banking.metadata("demo002")
    request = make_tracker(
        text="send 5 to my savings with reference holiday fund",
        intent="transfer_money",
        metadata=metadata,
        entities=[
            {"entity": "amount", "value": "5"},
            {"entity": "account_type", "value": "savings", "role": "to"},
        ],
    )
    events = await ValidateTransferForm().run(CollectingDispatcher(), request, DOMAIN)
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert slots["transfer_reference"] == "holiday fund"
    assert slots["transfer_amount"] == "5" and slots["transfer_destination"]["kind"] == "own"
    slots = {
        **slots_for(use_core_banking, "demo002", "5", destination),
        "transfer_reference": "holiday fund",
    }
    dispatcher = CollectingDispatcher()
    await ActionAskTransferConfirmed().run(
        dispatcher, make_tracker(metadata=metadata, slots=slots), {}
    )
    assert dispatcher.messages[0]["reference_text"] == ' with reference "holiday fund"'
    dispatcher = CollectingDispatcher()
    confirm = make_tracker(
        text="yes", intent="affirm", message_id="ref-turn", metadata=metadata, slots=slots
    )
    await ActionExecuteTransfer().run(dispatcher, confirm, {})
    assert responses(dispatcher) == ["utter_transfer_done"]
    latest = api(use_core_banking, "demo002", "/v1/transfers")[0]
    assert (latest["reference"], latest["amount_minor"]) == ("holiday fund", 500)


async def test_another_source_at_the_summary_replaces_it_and_asks_again(
    make_tracker, use_core_banking
) -> None:
    metadata = use_core_banking.metadata("demo002")
    external = {"kind": "iban", "account_number": "DE89370400440532013000", "label": "x"}
    slots = {
        **slots_for(use_core_banking, "demo002", "30", external, confirmed=None),
        "requested_slot": "transfer_confirmed",
    }
    savings = [{"entity": "account_type", "value": "savings", "role": "from"}]
    tracker = make_tracker(
        text="from savings", intent="inform", metadata=metadata, slots=slots, entities=savings
    )
    events = await ValidateTransferForm().run(CollectingDispatcher(), tracker, DOMAIN)
    changed = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert changed["transfer_source"]["type"] == "savings"
    assert changed["transfer_amount"] == "30" and changed["transfer_confirmed"] is None

    # From the account the money goes to: said, and the summary is asked again unchanged.
    own = own_account(use_core_banking, "demo002", "savings")
    slots = at_summary(use_core_banking, "demo002", "30", own)
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        text="from savings", intent="inform", metadata=metadata, slots=slots, entities=savings
    )
    events = await ValidateTransferForm().run(dispatcher, tracker, DOMAIN)
    assert responses(dispatcher) == ["utter_same_account"]
    assert {e["name"]: e["value"] for e in events if e.get("event") == "slot"} == {
        "transfer_confirmed": None
    }


async def test_an_account_said_alone_at_the_summary_is_the_new_source(
    make_tracker, use_core_banking
) -> None:
    """ "ok use savings instead" at a summary paying Alpine Energy from checking: the
    money comes from savings (it was "didn't get that", and a "yes" paid from checking)."""
    metadata = use_core_banking.metadata("demo002")
    payee = {"kind": "iban", "account_number": "DE89370400440532013000", "label": "x"}
    slots = at_summary(use_core_banking, "demo002", "45.90", payee)
    savings = [{"entity": "account_type", "value": "savings"}]
    tracker = make_tracker(
        text="ok use savings instead",
        intent="inform",
        metadata=metadata,
        slots=slots,
        entities=savings,
    )
    events = await ValidateTransferForm().run(CollectingDispatcher(), tracker, DOMAIN)
    changed = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert changed["transfer_source"]["type"] == "savings"
    assert changed["transfer_confirmed"] is None

    # Said alone before any summary, an account is where the money goes, not its source.
    asking = {**slots, "requested_slot": "transfer_destination", "transfer_destination": None}
    tracker = make_tracker(
        text="savings", intent="inform", metadata=metadata, slots=asking, entities=savings
    )
    assert ValidateTransferForm._source_named(tracker) is None


async def test_a_balance_question_at_the_summary_changes_nothing(
    make_tracker, use_core_banking
) -> None:
    """ "hmm actually how much do i have in checking first?" at a checking-to-savings
    summary is a question for the digression rules to answer (the NLU gives it
    check_balance, with "checking" in the role "to"): it made the summary "from your
    checking account to your checking account", which the bank then refused."""
    metadata = use_core_banking.metadata("demo002")
    to_savings = own_account(use_core_banking, "demo002", "savings")
    slots = at_summary(use_core_banking, "demo002", "30", to_savings)
    tracker = make_tracker(
        text="hmm actually how much do i have in checking first?",
        intent="check_balance",
        metadata=metadata,
        slots=slots,
        entities=[{"entity": "account_type", "value": "checking", "role": "to"}],
    )
    events = await ValidateTransferForm().run(CollectingDispatcher(), tracker, DOMAIN)
    changed = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert "transfer_destination" not in changed, changed
    assert "transfer_source" not in changed, changed


@pytest.mark.parametrize(
    ("text", "said", "source"),
    [
        (
            "move everything from savings to checking",
            [("savings", "from"), ("checking", "to")],
            "savings",
        ),
        (
            "send all my savings to checking",
            [("savings", None), ("checking", "to")],
            "savings",
        ),
        ("put all my money into savings", [("savings", "to")], "checking"),
    ],
)
async def test_the_whole_balance_asked_in_the_request(
    text: str,
    said: list[tuple[str, str | None]],
    source: str,
    make_tracker,
    use_core_banking,
) -> None:
    """ "move everything from savings to checking" asked "How much?": the amount is the
    source's whole available balance, shown in the summary before any yes."""
    found = [
        {"entity": "account_type", "value": kind, **({"role": role} if role else {})}
        for kind, role in said
    ]
    tracker = make_tracker(
        text=text,
        intent="transfer_money",
        metadata=use_core_banking.metadata("demo003"),
        entities=found,
    )
    events = await ValidateTransferForm().run(CollectingDispatcher(), tracker, DOMAIN)
    changed = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert changed["transfer_source"]["type"] == source
    available = accounts(use_core_banking, "demo003")[source]["available_minor"]
    assert Decimal(changed["transfer_amount"]) * 100 == available


async def test_a_reference_naming_a_payee_changes_no_recipient(
    make_tracker, use_core_banking
) -> None:
    """ "actually no, make it 25 and put rent as the reference" at a summary to savings:
    the amount and the reference change, the recipient stays (it became City Housing
    (rent), with the reference "erence")."""
    metadata = use_core_banking.metadata("demo002")
    to_savings = own_account(use_core_banking, "demo002", "savings")
    slots = at_summary(use_core_banking, "demo002", "20", to_savings)
    text = "actually no, make it 25 and put rent as the reference"
    tracker = make_tracker(
        text=text,
        intent="inform",
        metadata=metadata,
        slots=slots,
        entities=[{"entity": "amount", "value": "25", "start": 21, "end": 23}],
    )
    events = await ValidateTransferForm().run(CollectingDispatcher(), tracker, DOMAIN)
    changed = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert "transfer_destination" not in changed
    assert changed["transfer_amount"] == "25" and changed["transfer_reference"] == "rent"
    assert changed["transfer_confirmed"] is None


async def test_both_ends_changed_at_the_summary_swap_the_transfer(
    make_tracker, use_core_banking
) -> None:
    """ "no wait, make it from savings to checking" at a checking-to-savings summary:
    both ends change (it said "can't go to the account it comes from" and kept them)."""
    metadata = use_core_banking.metadata("demo002")
    mine = accounts(use_core_banking, "demo002")
    slots = at_summary(
        use_core_banking, "demo002", "200", own_account(use_core_banking, "demo002", "savings")
    )
    swapped = [
        {"entity": "account_type", "value": "savings", "role": "from"},
        {"entity": "account_type", "value": "checking", "role": "to"},
    ]
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        text="no wait, make it from savings to checking",
        intent="inform",
        metadata=metadata,
        slots=slots,
        entities=swapped,
    )
    events = await ValidateTransferForm().run(dispatcher, tracker, DOMAIN)
    changed = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert "utter_same_account" not in responses(dispatcher)
    assert changed["transfer_source"]["type"] == "savings"
    assert changed["transfer_destination"]["account_number"] == mine["checking"]["number"]
    assert changed["transfer_amount"] == "200" and changed["transfer_confirmed"] is None


async def test_declined_summary_moves_nothing(make_tracker, dispatcher, use_core_banking) -> None:
    before = accounts(use_core_banking, "demo002")
    destination = {"kind": "own", "account_number": before["savings"]["number"], "label": "s"}
    tracker = make_tracker(
        intent="deny",
        metadata=use_core_banking.metadata("demo002"),
        slots=slots_for(use_core_banking, "demo002", "10", destination, False),
    )
    await ActionExecuteTransfer().run(dispatcher, tracker, {})
    assert responses(dispatcher) == ["utter_transfer_cancelled"]
    assert accounts(use_core_banking, "demo002") == before


async def test_insufficient_funds_and_daily_limit_are_explained(
    make_tracker, use_core_banking
) -> None:
    savings = accounts(use_core_banking, "demo001")["savings"]
    own = {"kind": "own", "account_number": savings["number"], "label": "savings"}
    # The daily limit (5,000.00 by default) applies to money leaving the customer.
    external = {"kind": "iban", "account_number": "DE89370400440532013000", "label": "x"}
    metadata = use_core_banking.metadata("demo001")
    cases = (
        ("4000", own, "utter_insufficient_funds"),
        ("6000", external, "utter_daily_limit_remaining"),
    )
    for amount, destination, expected in cases:
        dispatcher = CollectingDispatcher()
        slots = slots_for(use_core_banking, "demo001", amount, destination)
        tracker = make_tracker(intent="affirm", metadata=metadata, message_id=amount, slots=slots)
        await ActionExecuteTransfer().run(dispatcher, tracker, {})
        assert responses(dispatcher) == [expected]
    # What is left of today's limit (5,000.00 EUR less what demo001 sent out today).
    remaining = dispatcher.messages[0]["remaining"]
    assert remaining.endswith(" EUR")
    assert 0 < Decimal(remaining.removesuffix(" EUR").replace(",", "")) <= 5000


async def test_held_transfer_needs_the_one_time_code(make_tracker, use_core_banking) -> None:
    # A first payment of 300 EUR to a new IBAN is above the new-payee risk threshold.
    destination = {
        "kind": "iban",
        "account_number": "FR1420041010050500013M02606",
        "label": "IBAN •••• 2606",
    }
    metadata = use_core_banking.metadata("demo001")
    slots = slots_for(use_core_banking, "demo001", "300", destination)
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(intent="affirm", metadata=metadata, message_id="risky", slots=slots)
    events = await ActionExecuteTransfer().run(dispatcher, tracker, {})
    assert responses(dispatcher) == []  # no code in the chat: otp_form asks for the app's
    assert "authenticator app" in DOMAIN["responses"]["utter_ask_otp_code"][0]["text"]
    pending = next(e["value"] for e in events if e.get("name") == "pending_transfer_id")
    assert "otp_form" in [e.get("name") for e in events if e["event"] == "followup"]
    held = accounts(use_core_banking, "demo001")["checking"]
    assert held["available_minor"] == held["balance_minor"] - 30000  # reserved at once

    otp = {**slots, "pending_transfer_id": pending, "requested_slot": "otp_code"}
    wrong = wrong_code()
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(text=f"it's {wrong}", intent="inform", metadata=metadata, slots=otp)
    assert await ValidateOtpForm().extract_otp_code(dispatcher, tracker, {}) == {"otp_code": wrong}
    events = await ActionConfirmTransfer().run(
        dispatcher, make_tracker(metadata=metadata, slots={**otp, "otp_code": wrong}), {}
    )
    assert responses(dispatcher) == ["utter_wrong_otp"]
    assert "otp_form" in [e.get("name") for e in events if e["event"] == "followup"]

    before = accounts(use_core_banking, "demo001")["checking"]["balance_minor"]
    dispatcher = CollectingDispatcher()
    await ActionConfirmTransfer().run(
        dispatcher, make_tracker(metadata=metadata, slots={**otp, "otp_code": current_code()}), {}
    )
    assert responses(dispatcher) == ["utter_transfer_done"]
    assert accounts(use_core_banking, "demo001")["checking"]["balance_minor"] == before - 30000


async def test_the_last_wrong_code_says_the_transfer_is_cancelled(
    make_tracker, use_core_banking
) -> None:
    destination = {"kind": "iban", "account_number": "NL91ABNA0417164300", "label": "NL"}
    metadata = use_core_banking.metadata("demo002")
    slots = slots_for(use_core_banking, "demo002", "450", destination)
    dispatcher = CollectingDispatcher()
    events = await ActionExecuteTransfer().run(
        dispatcher, make_tracker(metadata=metadata, message_id="w1", slots=slots), {}
    )
    pending = next(e["value"] for e in events if e.get("name") == "pending_transfer_id")
    otp = {**slots, "pending_transfer_id": pending, "otp_code": wrong_code()}
    said = []
    for _ in range(3):  # core_banking's CONFIRMATION_MAX_ATTEMPTS
        dispatcher = CollectingDispatcher()
        events = await ActionConfirmTransfer().run(
            dispatcher, make_tracker(metadata=metadata, slots=otp), {}
        )
        said += responses(dispatcher)
    assert said == ["utter_wrong_otp", "utter_wrong_otp", "utter_transfer_blocked_after_otp"]
    assert "otp_form" not in [e.get("name") for e in events if e["event"] == "followup"]
    assert any(e.get("name") == "pending_transfer_id" and e["value"] is None for e in events)


async def test_a_code_already_used_is_said_so_and_asked_again(
    make_tracker, use_core_banking
) -> None:
    metadata = use_core_banking.metadata("demo003")
    pending = []
    for n, iban in enumerate(("NL91ABNA0417164300", "FR1420041010050500013M02606")):
        destination = {"kind": "iban", "account_number": iban, "label": iban[:2]}
        slots = slots_for(use_core_banking, "demo003", "250", destination)
        events = await ActionExecuteTransfer().run(
            CollectingDispatcher(),
            make_tracker(metadata=metadata, message_id=f"u{n}", slots=slots),
            {},
        )
        pending.append(next(e["value"] for e in events if e.get("name") == "pending_transfer_id"))
    code = current_code()
    said = []
    for transfer_id in pending:  # the same code for both transfers
        dispatcher = CollectingDispatcher()
        otp = {**slots, "pending_transfer_id": transfer_id, "otp_code": code}
        events = await ActionConfirmTransfer().run(
            dispatcher, make_tracker(metadata=metadata, slots=otp), {}
        )
        said += responses(dispatcher)
    assert said == ["utter_transfer_done", "utter_otp_already_used"]
    assert "otp_form" in [e.get("name") for e in events if e["event"] == "followup"]
    assert ("otp_code", None) in [(e.get("name"), e.get("value")) for e in events]


async def test_a_customer_without_an_authenticator_app_is_told_so(
    make_tracker, use_core_banking
) -> None:
    with sqlite3.connect(use_core_banking.database) as db:  # demo004 never enrolled one
        db.execute(
            "DELETE FROM step_up_factors WHERE customer_id = ?",
            (use_core_banking.customer_id("demo004"),),
        )
    destination = {"kind": "iban", "account_number": "NL91ABNA0417164300", "label": "NL"}
    slots = slots_for(use_core_banking, "demo004", "300", destination)
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        metadata=use_core_banking.metadata("demo004"), message_id="n1", slots=slots
    )
    events = await ActionExecuteTransfer().run(dispatcher, tracker, {})
    assert responses(dispatcher) == ["utter_transfer_rejected"]
    assert "authenticator app" in dispatcher.messages[0]["reason"]
    assert "otp_form" not in [e.get("name") for e in events if e["event"] == "followup"]
    checking = accounts(use_core_banking, "demo004")["checking"]
    assert checking["available_minor"] == checking["balance_minor"]  # nothing held


async def test_cancel_at_the_code_cancels_at_the_bank(make_tracker, use_core_banking) -> None:
    destination = {"kind": "iban", "account_number": "NL91ABNA0417164300", "label": "NL"}
    metadata = use_core_banking.metadata("demo002")
    slots = slots_for(use_core_banking, "demo002", "400", destination)
    dispatcher = CollectingDispatcher()
    events = await ActionExecuteTransfer().run(
        dispatcher, make_tracker(metadata=metadata, message_id="c1", slots=slots), {}
    )
    pending = next(e["value"] for e in events if e.get("name") == "pending_transfer_id")
    dispatcher = CollectingDispatcher()
    await ActionCancelTransferTask().run(
        dispatcher, make_tracker(metadata=metadata, slots={"pending_transfer_id": pending}), {}
    )
    assert responses(dispatcher) == ["utter_transfer_cancelled"]
    headers = {"Authorization": f"Bearer {use_core_banking.token('demo002')}"}
    status = httpx.get(f"{use_core_banking.url}/v1/transfers/{pending}", headers=headers).json()
    assert status["status"] == "cancelled"
    checking = accounts(use_core_banking, "demo002")["checking"]
    assert checking["available_minor"] == checking["balance_minor"]  # the hold was released


async def test_guest_is_asked_to_log_in(make_tracker, dispatcher, use_core_banking) -> None:
    tracker = make_tracker(intent="transfer_money", metadata={})
    assert (
        await ValidateTransferForm().required_slots(["transfer_amount"], dispatcher, tracker, {})
        == []
    )
    await ActionExecuteTransfer().run(dispatcher, tracker, {})
    assert responses(dispatcher) == ["utter_login_required"]


def test_idempotency_key_follows_the_turn(make_tracker) -> None:
    assert idempotency_key(make_tracker(message_id="a")) == idempotency_key(
        make_tracker(message_id="a")
    )
    assert idempotency_key(make_tracker(message_id="a")) != idempotency_key(
        make_tracker(message_id="b")
    )
    assert idempotency_key(make_tracker(message_id="a", sender_id="s1")) != idempotency_key(
        make_tracker(message_id="a", sender_id="s2")
    )


def test_idempotency_key_follows_the_gateways_turn_id(make_tracker) -> None:
    def key(message_id: str, turn_id: str, sender_id: str = "s1") -> str:
        return idempotency_key(
            make_tracker(message_id=message_id, sender_id=sender_id, metadata={"turn_id": turn_id})
        )

    assert key("a", "s1:m1") == key("b", "s1:m1")  # a new Rasa message_id per HTTP call
    assert key("a", "s1:m1") != key("a", "s1:m2")
    assert idempotency_key(make_tracker(metadata={"turn_id": "s1:m1"})) != turn_key(
        make_tracker(metadata={"turn_id": "s1:m1"}), "gift-card-buy"
    )


# Issue 14: amounts and recipients as the NLU reads them from the customer's words.
def savings_source(bank: Any, username: str) -> dict[str, Any]:
    savings = accounts(bank, username)["savings"]
    return {
        "id": savings["id"],
        "type": "savings",
        "number": savings["number"],
        "currency": "EUR",
        "available_minor": savings["available_minor"],
        "label": "savings account",
    }


async def summary_of(
    make_tracker, bank: Any, nlu, text: str, username: str = "demo003", **slots: Any
) -> str:
    """The form run on `text` (a request to pay an IBAN from savings), then the summary's
    amount."""
    external = {
        "kind": "iban",
        "account_number": "DE89370400440532013000",
        "label": "IBAN •••• 3000",
    }
    filled = {
        "transfer_destination": external,
        "transfer_source": savings_source(bank, username),
        "requested_slot": "transfer_amount",
        **slots,
    }
    tracker = make_tracker(
        text=text,
        intent="inform",
        metadata=bank.metadata(username),
        slots=filled,
        entities=nlu(text),
    )
    dispatcher = CollectingDispatcher()
    events = await ValidateTransferForm().run(dispatcher, tracker, DOMAIN)
    assert responses(dispatcher) == []
    filled.update({e["name"]: e["value"] for e in events if e.get("event") == "slot"})
    await ActionAskTransferConfirmed().run(
        dispatcher, make_tracker(metadata=bank.metadata(username), slots=filled), {}
    )
    [summary] = dispatcher.messages
    return str(summary["amount"])


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("move 2k", "2,000.00 EUR"),
        ("1 100 eur", "1,100.00 EUR"),
        ("twenty-five euros and fifty cents", "25.50 EUR"),
        ("twenty five euros fifty", "25.50 EUR"),
        ("fifty bucks", "50.00 EUR"),
        ("two hundred and fifty", "250.00 EUR"),
        ("1.100,50", "1,100.50 EUR"),
        ("€50", "50.00 EUR"),
    ],
)
async def test_the_summary_shows_the_amount_meant(
    text: str, amount: str, make_tracker, use_core_banking, nlu
) -> None:
    assert await summary_of(make_tracker, use_core_banking, nlu, text) == amount


async def test_an_ambiguous_amount_is_asked_with_both_readings(
    make_tracker, use_core_banking, nlu
) -> None:
    metadata = use_core_banking.metadata("demo003")
    source = savings_source(use_core_banking, "demo003")
    slots = {
        "transfer_destination": {
            "kind": "iban",
            "account_number": "DE89370400440532013000",
            "label": "x",
        },
        "transfer_source": source,
        "requested_slot": "transfer_amount",
    }
    tracker = make_tracker(
        text="1.100", intent="inform", metadata=metadata, slots=dict(slots), entities=nlu("1.100")
    )
    dispatcher = CollectingDispatcher()
    events = await ValidateTransferForm().run(dispatcher, tracker, DOMAIN)
    changed = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert "transfer_amount" not in changed  # never guessed
    assert changed["transfer_amount_options"] == {"thousands": "1100", "decimal": "1.1"}

    dispatcher = CollectingDispatcher()
    await ActionAskTransferAmount().run(
        dispatcher, make_tracker(metadata=metadata, slots={**slots, **changed}), {}
    )
    [question] = dispatcher.messages
    assert question["response"] == "utter_ask_transfer_amount_ambiguous"
    assert (question["thousands"], question["decimal"]) == ("1,100.00 EUR", "1.10 EUR")
    [response] = DOMAIN["responses"]["utter_ask_transfer_amount_ambiguous"]
    assert response["text"] == "Did you mean {thousands} or {decimal}?"
    assert [b["payload"] for b in response["buttons"]] == ["{thousands}", "{decimal}"]

    # Each button sends its amount written out, which the NLU reads for sure.
    for button, expected in (("1,100.00 EUR", "1,100.00 EUR"), ("1.10 EUR", "1.10 EUR")):
        options = changed["transfer_amount_options"]
        assert (
            await summary_of(
                make_tracker, use_core_banking, nlu, button, transfer_amount_options=options
            )
            == expected
        )
    # Without a question pending, the plain amount question is asked, naming the
    # recipient once there is one ("send my landlord the rent": City Housing (rent)).
    dispatcher = CollectingDispatcher()
    await ActionAskTransferAmount().run(
        dispatcher, make_tracker(metadata=metadata, slots=slots), {}
    )
    assert responses(dispatcher) == ["utter_ask_transfer_amount_to"]
    assert dispatcher.messages[0]["recipient"] == "x"  # the destination's label
    dispatcher = CollectingDispatcher()
    nobody_yet = {**slots, "transfer_destination": None}
    await ActionAskTransferAmount().run(
        dispatcher, make_tracker(metadata=metadata, slots=nobody_yet), {}
    )
    assert responses(dispatcher) == ["utter_ask_transfer_amount"]


async def test_the_customers_locale_reads_1_100_for_sure(
    make_tracker, use_core_banking, nlu
) -> None:
    tracker = make_tracker(
        text="1.100",
        intent="inform",
        entities=nlu("1.100", locale="de-DE"),
        metadata=use_core_banking.metadata("demo003"),
        slots={"requested_slot": "transfer_amount"},
    )
    extracted = await ValidateTransferForm().extract_transfer_amount(
        CollectingDispatcher(), tracker, {}
    )
    assert extracted == {"transfer_amount": "1100", "transfer_currency": None}


async def test_an_ambiguous_amount_at_the_summary_is_asked_again(
    make_tracker, use_core_banking, nlu
) -> None:
    slots = {
        **slots_for(use_core_banking, "demo003", "50", {"kind": "own"}, None),
        "requested_slot": "transfer_confirmed",
    }
    tracker = make_tracker(
        text="no, make it 1,100",
        intent="deny",
        slots=slots,
        metadata=use_core_banking.metadata("demo003"),
        entities=nlu("no, make it 1,100"),
    )
    extracted = await ValidateTransferForm().extract_transfer_amount(
        CollectingDispatcher(), tracker, {}
    )
    assert extracted == {
        "transfer_amount_options": {"thousands": "1100", "decimal": "1.1"},
        "transfer_amount": None,
        "transfer_confirmed": None,
    }


async def add_payee(bank: Any, username: str, name: str, iban: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {bank.token(username)}"}
    response = httpx.post(
        f"{bank.url}/v1/payees", headers=headers, json={"name": name, "iban": iban}
    )
    response.raise_for_status()
    return dict(response.json())


async def test_my_sister_anna_is_the_payee_anna(
    make_tracker, dispatcher, use_core_banking, nlu
) -> None:
    text = "send 50 to my sister Anna"
    # No payee Anna yet: said so (the relation did not hide the name).
    events = [{"event": "user", "text": text}]
    assert (
        await destination_from(
            make_tracker,
            use_core_banking,
            dispatcher,
            text,
            "transfer_money",
            entities=nlu(text),
            events=events,
        )
        == {}
    )
    assert responses(dispatcher) == ["utter_unknown_destination"]
    payee = await add_payee(use_core_banking, "demo001", "Anna Becker", "NL91ABNA0417164300")
    try:
        quiet = CollectingDispatcher()
        found = await destination_from(
            make_tracker, use_core_banking, quiet, text, "transfer_money", entities=nlu(text)
        )
        assert found["transfer_destination"]["payee_id"] == payee["id"]
        assert responses(quiet) == []
    finally:
        httpx.delete(
            f"{use_core_banking.url}/v1/payees/{payee['id']}",
            headers={"Authorization": f"Bearer {use_core_banking.token('demo001')}"},
        )


async def test_take_it_from_savings_after_too_much_for_checking(
    make_tracker, use_core_banking, nlu
) -> None:
    metadata = use_core_banking.metadata("demo003")
    external = {"kind": "iban", "account_number": "DE89370400440532013000", "label": "x"}
    slots = {
        **slots_for(use_core_banking, "demo003", "0", external, None),
        "transfer_amount": None,
        "requested_slot": "transfer_amount",
    }
    dispatcher = CollectingDispatcher()
    text = "2000"
    tracker = make_tracker(
        text=text, intent="inform", metadata=metadata, slots=slots, entities=nlu(text)
    )
    events = await ValidateTransferForm().run(dispatcher, tracker, DOMAIN)
    assert responses(dispatcher) == ["utter_amount_over_available"]
    slots.update({e["name"]: e["value"] for e in events if e.get("event") == "slot"})
    assert slots["transfer_amount"] is None

    text = "ok take it from savings then"
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        text=text, intent="transfer_money", metadata=metadata, slots=slots, entities=nlu(text)
    )
    events = await ValidateTransferForm().run(dispatcher, tracker, DOMAIN)
    changed = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert responses(dispatcher) == []  # 2,000.00 fits in savings (5,000.00)
    assert changed["transfer_source"]["type"] == "savings"
    assert changed["transfer_amount"] == "2000"
    assert "transfer_destination" not in changed  # the recipient is kept


@pytest.mark.parametrize("text", ["the usual amount", "same as last time"])
async def test_the_usual_amount_is_the_last_payment_to_the_payee(
    text: str, make_tracker, use_core_banking
) -> None:
    """Asked how much to send to Alpine Energy AG: "the usual amount" is the seeded
    history's latest payment to them (95.00 EUR), said before the summary ("Sorry, I
    didn't get that" before)."""
    metadata = use_core_banking.metadata("demo003")
    destination = payee_of(use_core_banking, "demo003", "Alpine")
    slots = {
        **slots_for(use_core_banking, "demo003", "10", destination, confirmed=None),
        "transfer_amount": None,
        "requested_slot": "transfer_amount",
    }
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(text=text, intent="inform", metadata=metadata, slots=slots)
    extracted = await ValidateTransferForm().extract_transfer_amount(dispatcher, tracker, {})
    assert extracted == {"transfer_amount": "95.00", "transfer_currency": "EUR"}
    assert responses(dispatcher) == ["utter_usual_amount"]
    assert dispatcher.messages[0]["amount"] == "95.00 EUR"

    own = {**slots, "transfer_destination": own_account(use_core_banking, "demo003", "savings")}
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(text=text, intent="inform", metadata=metadata, slots=own)
    assert await ValidateTransferForm().extract_transfer_amount(dispatcher, tracker, {}) == {}
    assert responses(dispatcher) == ["utter_usual_amount_needs_payee"]


async def test_the_chosen_payee_named_again_while_the_amount_is_asked_is_no_error(
    make_tracker, use_core_banking
) -> None:
    """ "city housing" when asked how much to send to City Housing (rent): the form takes
    the message and asks the amount again (it said "Sorry, I didn't get that")."""
    metadata = use_core_banking.metadata("demo003")
    rent_payee = rent_payee_of(use_core_banking, "demo003")
    slots = {
        **slots_for(use_core_banking, "demo003", "10", rent_payee, confirmed=None),
        "transfer_amount": None,
        "requested_slot": "transfer_amount",
    }
    tracker = make_tracker(text="city housing", intent="inform", metadata=metadata, slots=slots)
    events = await ValidateTransferForm().run(CollectingDispatcher(), tracker, DOMAIN)
    changed = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert changed == {"transfer_destination": rent_payee}
    other = make_tracker(text="alpine energy", intent="inform", metadata=metadata, slots=slots)
    events = await ValidateTransferForm().run(CollectingDispatcher(), other, DOMAIN)
    assert not [e for e in events if e.get("event") == "slot"]


async def test_take_it_from_savings_after_the_bank_refused_it_for_funds(
    make_tracker, use_core_banking, nlu
) -> None:
    # core_banking refuses 2,000.00 from demo003's checking (1,000.00): the transfer ends.
    metadata = use_core_banking.metadata("demo003")
    rent_payee = rent_payee_of(use_core_banking, "demo003")
    slots = slots_for(use_core_banking, "demo003", "2000", rent_payee)
    dispatcher = CollectingDispatcher()
    reset = await ActionExecuteTransfer().run(
        dispatcher,
        make_tracker(
            text="yes", intent="affirm", metadata=metadata, message_id="funds", slots=slots
        ),
        {},
    )
    assert responses(dispatcher) == ["utter_insufficient_funds"]

    # As Rasa records it: the filled slots, the refusal's reset and reply, the next turn.
    text = "ok take it from savings then"
    history = [
        *({"event": "slot", "name": name, "value": value} for name, value in slots.items()),
        *reset,
        {
            "event": "bot",
            "text": "There isn't enough money …",
            "metadata": {"utter_action": "utter_insufficient_funds"},
        },
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text},
    ]
    after_refusal = {e["name"]: e["value"] for e in reset}
    tracker = make_tracker(
        text=text,
        intent="transfer_money",
        metadata=metadata,
        slots=dict(after_refusal),
        entities=nlu(text),
        events=history,
    )
    kept = await ActionResetTaskSlots().run(CollectingDispatcher(), tracker, DOMAIN)
    restored = {**after_refusal, **{e["name"]: e["value"] for e in kept}}
    assert restored["transfer_destination"] == rent_payee

    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        text=text,
        intent="transfer_money",
        metadata=metadata,
        slots=restored,
        entities=nlu(text),
        events=history,
    )
    events = await ValidateTransferForm().run(dispatcher, tracker, DOMAIN)
    changed = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert responses(dispatcher) == []  # 2,000.00 fits in savings (5,000.00)
    assert changed["transfer_source"]["type"] == "savings"
    assert changed["transfer_amount"] == "2000"


async def test_a_new_transfer_after_a_refusal_starts_afresh(
    make_tracker, use_core_banking, nlu
) -> None:
    refusal = [
        {"event": "slot", "name": "transfer_destination", "value": {"kind": "own"}},
        {"event": "slot", "name": "transfer_amount", "value": "2000"},
        {"event": "bot", "text": "…", "metadata": {"utter_action": "utter_insufficient_funds"}},
        {"event": "user", "text": "x"},
    ]
    for text in ("send 20 to Anna from savings", "move money to my savings"):
        tracker = make_tracker(
            text=text,
            intent="transfer_money",
            entities=nlu(text),
            metadata=use_core_banking.metadata("demo003"),
            slots={"transfer_amount": "2000"},
            events=refusal,
        )
        assert await ActionResetTaskSlots().run(CollectingDispatcher(), tracker, DOMAIN) == [
            {"event": "slot", "timestamp": None, "name": "transfer_amount", "value": None}
        ]


@pytest.mark.parametrize(
    ("text", "corrected"),
    [
        ("sorry i meant city housing not alpine", "City Housing (rent)"),
        ("not alpine, city housing", "City Housing (rent)"),
        ("i meant the rent, not the energy bill", "City Housing (rent)"),
        ("no, alpine is right", None),  # the same payee: nothing to correct
        ("yes", None),  # no correction said
    ],
)
async def test_another_payee_named_at_the_summary_replaces_the_recipient(
    text: str, corrected: str | None, make_tracker, dispatcher, use_core_banking
) -> None:
    """Issue 14: "sorry i meant city housing not alpine" at the summary was "outside what I
    can help with", then the Alpine Energy summary again."""
    payees = {p["name"]: p for p in api(use_core_banking, "demo001", "/v1/payees")}
    alpine = payees["Alpine Energy AG"]
    current = {
        "kind": "payee",
        "payee_id": alpine["id"],
        "account_number": alpine["iban"],
        "label": alpine["name"],
    }
    slots = {
        "transfer_destination": current,
        "transfer_amount": "150",
        "requested_slot": "transfer_confirmed",
    }
    extracted = await destination_from(
        make_tracker, use_core_banking, dispatcher, text, slots=slots
    )
    if corrected is None:
        assert extracted == {}
    else:
        assert extracted["transfer_destination"]["label"] == corrected
        assert extracted["transfer_confirmed"] is None  # the summary is shown again


@pytest.mark.parametrize(
    ("text", "corrected"),
    [
        ("oops no, to my savings account", "your savings account"),
        ("sorry, to savings", "your savings account"),
        ("to savings", None),  # no correction said: the summary's yes/no is awaited
    ],
)
async def test_own_account_named_as_a_correction_at_the_summary_replaces_the_payee(
    text: str, corrected: str | None, make_tracker, dispatcher, nlu, use_core_banking
) -> None:
    payee = api(use_core_banking, "demo001", "/v1/payees")[0]
    current = {
        "kind": "payee",
        "payee_id": payee["id"],
        "account_number": payee["iban"],
        "label": payee["name"],
    }
    slots = {
        "transfer_destination": current,
        "transfer_amount": "70",
        "requested_slot": "transfer_confirmed",
    }
    extracted = await destination_from(
        make_tracker, use_core_banking, dispatcher, text, slots=slots, entities=nlu(text)
    )
    if corrected is None:
        assert extracted == {}
    else:
        assert extracted["transfer_destination"]["kind"] == "own"
        assert extracted["transfer_destination"]["label"] == corrected
        assert extracted["transfer_confirmed"] is None


@pytest.mark.parametrize(
    ("text", "intent", "confidence", "confirmed"),
    [
        ("hmm", "affirm", 0.85, None),  # once the NLU's reading of "hmm"
        ("uh", "affirm", 0.96, None),
        ("?", "affirm", 0.91, None),
        ("yes", "affirm", 0.60, True),  # a plain yes is a yes whatever the score
        ("ok, send it", "affirm", 0.80, True),
        ("/affirm", "affirm", 1.0, True),  # the summary's button
        ("go ahead and send it", "affirm", 0.99, True),
        ("yes delete it", "affirm", 0.77, True),  # a yes-word first, no doubt after it
        ("yes but not now", "affirm", 0.80, None),
        ("ok?", "affirm", 0.80, None),
        ("no", "deny", 0.99, False),
    ],
)
async def test_only_a_clear_yes_confirms_a_transfer(
    make_tracker, text: str, intent: str, confidence: float, confirmed: bool | None
) -> None:
    """A doubtful "yes" at the summary is no answer: the summary is asked again and
    nothing moves (the domain's from_intent mapping would have set the slot)."""
    tracker = make_tracker(text=text, intent=intent, slots={"requested_slot": "transfer_confirmed"})
    tracker.latest_message["intent"]["confidence"] = confidence
    value = {"affirm": True, "deny": False}[intent]
    result = await ValidateTransferForm().validate_transfer_confirmed(
        value, CollectingDispatcher(), tracker, DOMAIN
    )
    assert result == {"transfer_confirmed": confirmed}


async def test_another_payee_named_while_the_amount_is_asked_replaces_the_recipient(
    make_tracker, dispatcher, use_core_banking
) -> None:
    """ "send money to alpine energy" -> how much? -> "actually to city housing": the
    recipient changes before the summary is ever shown."""
    payees = {p["name"]: p for p in api(use_core_banking, "demo001", "/v1/payees")}
    alpine = payees["Alpine Energy AG"]
    slots = {
        "transfer_destination": {
            "kind": "payee",
            "payee_id": alpine["id"],
            "account_number": alpine["iban"],
            "label": alpine["name"],
        },
        "requested_slot": "transfer_amount",
    }
    extracted = await destination_from(
        make_tracker, use_core_banking, dispatcher, "actually to city housing", slots=slots
    )
    assert extracted["transfer_destination"]["label"] == "City Housing (rent)"


# --- follow-ups that rely on what was said before (issue 14) -------------------------


@pytest.mark.parametrize("text", ["now send her 30 euros", "pay them 45", "transfer 60 to him"])
async def test_a_pronoun_names_the_payee_named_last(
    make_tracker, dispatcher, use_core_banking, nlu, text: str
) -> None:
    payees = api(use_core_banking, "demo001", "/v1/payees")
    last = payees[-1]
    found = await destination_from(
        make_tracker,
        use_core_banking,
        dispatcher,
        text,
        "transfer_money",
        entities=nlu(text),
        slots={"last_payee": last["name"]},
    )
    assert found["transfer_destination"]["payee_id"] == last["id"]
    # Nobody named before: the form asks whom to pay, as for "send 30 euros".
    nobody = CollectingDispatcher()
    unnamed = await destination_from(
        make_tracker, use_core_banking, nobody, text, "transfer_money", entities=nlu(text)
    )
    assert unnamed == {} and responses(nobody) == []


async def test_a_payee_named_in_the_message_wins_over_a_pronoun(
    make_tracker, dispatcher, use_core_banking, nlu
) -> None:
    first, second = api(use_core_banking, "demo001", "/v1/payees")[:2]
    text = f"send her 30, I mean {second['name']}"
    found = await destination_from(
        make_tracker,
        use_core_banking,
        dispatcher,
        text,
        "transfer_money",
        entities=nlu(text),
        slots={"last_payee": first["name"]},
    )
    assert found["transfer_destination"]["payee_id"] == second["id"]


async def test_the_summary_remembers_the_payee_for_a_pronoun(make_tracker, dispatcher) -> None:
    destination = {"kind": "payee", "payee_id": "p1", "account_number": "X", "label": "Anna B"}
    source = {"currency": "EUR", "label": "checking account"}
    tracker = make_tracker(
        slots={
            "transfer_amount": "20",
            "transfer_source": source,
            "transfer_destination": destination,
        }
    )
    events = await ActionAskTransferConfirmed().run(dispatcher, tracker, {})
    assert events == [{"event": "slot", "timestamp": None, "name": "last_payee", "value": "Anna B"}]


async def test_do_the_same_again_repeats_the_last_transfer_with_its_own_yes(
    make_tracker, use_core_banking
) -> None:
    bank, user = use_core_banking, "demo003"
    savings = accounts(bank, user)["savings"]
    destination = {"kind": "own", "account_number": savings["number"], "label": "your savings"}
    sent = make_tracker(
        text="yes",
        intent="affirm",
        metadata=bank.metadata(user, turn_id="s:repeat-1"),
        slots={**slots_for(bank, user, "20", destination), "transfer_reference": "pocket money"},
    )
    events = await ActionExecuteTransfer().run(CollectingDispatcher(), sent, {})
    last = next(e["value"] for e in events if e.get("name") == "last_transfer")
    assert last == {
        "destination": destination,
        "amount": "20",
        "currency": "EUR",
        "reference": "pocket money",
        "source_type": "checking",
    }
    before = accounts(bank, user)
    again = make_tracker(
        text="do the same again",
        intent="repeat_last_task",
        metadata=bank.metadata(user, turn_id="s:repeat-2"),
        slots={"last_transfer": last},
    )
    dispatcher = CollectingDispatcher()
    filled: dict[str, Any] = {
        str(e.get("name")): e.get("value")
        for e in await ActionRepeatTransfer().run(dispatcher, again, {})
    }
    # The form opens filled in, at its summary (transfer_confirmed asked), and nothing moved.
    assert filled["transfer_destination"] == destination
    assert filled["transfer_amount"] == "20"
    assert filled["transfer_reference"] == "pocket money"
    assert filled["transfer_confirmed"] is None
    source = filled["transfer_source"]
    assert source["type"] == "checking"
    assert source["available_minor"] == before["checking"]["available_minor"]  # read again
    assert accounts(bank, user) == before
    assert responses(dispatcher) == []


async def test_the_repeat_opens_the_transfer_form(make_tracker, use_core_banking) -> None:
    bank = use_core_banking
    last = {
        "destination": {"kind": "own", "account_number": "X", "label": "your savings"},
        "amount": "5",
        "currency": "EUR",
        "reference": None,
        "source_type": None,
    }
    tracker = make_tracker(
        text="same again",
        intent="repeat_last_task",
        metadata=bank.metadata("demo003"),
        slots={"last_transfer": last},
    )
    events = await ActionRepeatTransfer().run(CollectingDispatcher(), tracker, {})
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "transfer_form"}


async def test_and_another_10_repeats_the_last_transfer_with_the_new_amount(
    make_tracker, use_core_banking
) -> None:
    last = {
        "destination": {"kind": "own", "account_number": "X", "label": "your savings"},
        "amount": "5",
        "currency": "EUR",
        "reference": None,
        "source_type": None,
    }
    text = "and another 10"
    tracker = make_tracker(
        text=text,
        intent="repeat_last_task",
        metadata=use_core_banking.metadata("demo003"),
        slots={"last_transfer": last},
        entities=amount_entities(text, "10"),
    )
    events = await ActionRepeatTransfer().run(CollectingDispatcher(), tracker, {})
    filled = {str(e.get("name")): e.get("value") for e in events if e.get("event") == "slot"}
    assert filled["transfer_amount"] == "10"
    assert filled["transfer_destination"] == last["destination"]


async def test_nothing_to_repeat_is_said_so(make_tracker, dispatcher, use_core_banking) -> None:
    tracker = make_tracker(
        text="do it again", intent="repeat_last_task", metadata=use_core_banking.metadata("demo003")
    )
    assert await ActionRepeatTransfer().run(dispatcher, tracker, {}) == []
    assert responses(dispatcher) == ["utter_nothing_to_repeat"]


async def test_what_to_repeat_and_whom_a_pronoun_means_outlive_a_new_task(make_tracker) -> None:
    remembered = {"last_payee": "Anna B", "last_transfer": {"amount": "5"}}
    tracker = make_tracker(slots={**remembered, "transfer_amount": "5"})
    domain = {"slots": {**DOMAIN["slots"], "last_payee": {}}}
    events = await ActionResetTaskSlots().run(CollectingDispatcher(), tracker, domain)
    assert {e["name"] for e in events} == {"transfer_amount"}
