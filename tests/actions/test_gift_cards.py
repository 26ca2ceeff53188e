"""Gift-card actions against a real core_banking over HTTP, and against a small real HTTP
stub of the gateway's `/internal/pii/resolve` (the gateway is outside the action
server's boundary)."""

import json
import random
import re
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cryptography.fernet import Fernet
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

import actions.core_banking_api.client
from actions import core_banking_api, gateway_client
from actions.gift_card_purchase import (
    NO_MESSAGE,
    ActionAskBuyGiftCardConfirmed,
    ActionAskGiftRecipientName,
    ActionBuyGiftCard,
    ActionCancelBuyGiftCardForm,
    ValidateBuyGiftCardForm,
    recipient_name,
)
from actions.gift_card_redemption import (
    ActionAskRedeemGiftCardConfirmed,
    ActionCancelRedeemGiftCardForm,
    ActionRedeemGiftCard,
    ValidateRedeemGiftCardForm,
)
from actions.gift_cards import (
    ActionCancelCheckGiftCardBalanceForm,
    ActionCheckGiftCardBalance,
    ValidateCheckGiftCardBalanceForm,
    idempotency_key,
    normalise_code,
)
from actions.settings import DEFAULT_CHAT_CREDENTIAL_KEY, get_settings
from tests.actions.conftest import sealed_metadata

ROOT = Path(__file__).resolve().parents[2]
DOMAIN: dict[str, Any] = yaml.safe_load((ROOT / "bot" / "domain" / "gift_cards.yml").read_text())
SERVICE_TOKEN = "test-service-token"
GUEST = sealed_metadata(None, None, session_id="guest-session", client_ip="198.51.100.77")
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


# --- helpers ------------------------------------------------------------------------------


def tracker(
    text: str = "",
    intent: str = "inform",
    metadata: dict[str, Any] | None = None,
    slots: dict[str, Any] | None = None,
    entities: list[dict[str, Any]] | None = None,
    requested: str | None = None,
    message_id: str = "msg-1",
    sender_id: str = "session-under-test",
) -> Tracker:
    slots = {**(slots or {}), "requested_slot": requested}
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.99},
        "entities": entities or [],
        "metadata": metadata or {},
        "message_id": message_id,
    }
    return Tracker(
        sender_id=sender_id,
        slots=slots,
        latest_message=latest,
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def entity(name: str, value: Any, role: str | None = None) -> dict[str, Any]:
    found = {"entity": name, "value": value}
    return {**found, "role": role} if role else found


def logged_in(bank: Any, username: str = "demo002") -> dict[str, Any]:
    return dict(bank.metadata(username))


def reveal(sealed: str) -> str:
    """What the gateway shows the customer live for a sealed secret in a reply."""
    match = re.fullmatch(r"\[sealed:(\w{4}):([\w=-]+)\]", sealed)
    assert match, f"not sealed: {sealed}"
    key = Fernet(DEFAULT_CHAT_CREDENTIAL_KEY.encode())
    return key.decrypt(match.group(2).encode()).decode()


def session_of(credential: str) -> str:
    body = json.loads(Fernet(DEFAULT_CHAT_CREDENTIAL_KEY.encode()).decrypt(credential.encode()))
    return str(body["sid"])


def said(dispatcher: CollectingDispatcher) -> list[str]:
    return [m["response"] for m in dispatcher.messages]


def slot_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


async def balances(bank: Any, username: str = "demo002") -> dict[str, int]:
    return {
        a.type: a.balance_minor for a in await core_banking_api.list_accounts(bank.token(username))
    }


def last4(code: str) -> str:
    normalised = normalise_code(code)
    assert normalised is not None, code
    return normalised[-4:]


def well_formed_unknown_code() -> str:
    """A code with a right check character that no card has."""
    while True:
        code = "".join(random.choice(ALPHABET) for _ in range(20))
        if normalise_code(code):
            return "-".join(code[i : i + 4] for i in range(0, 20, 4))


async def buy(
    bank: Any,
    dispatcher: CollectingDispatcher,
    amount: str,
    *,
    message_id: str,
    username: str = "demo002",
    turn_id: str | None = None,
) -> dict[str, Any]:
    """Runs action_buy_gift_card as after a yes; returns its receipt message."""
    slots = {
        "gift_amount": amount,
        "gift_recipient_name": "Anna",
        "gift_message": NO_MESSAGE,
        "gift_source_account": "checking",
        "buy_gift_card_confirmed": True,
    }
    metadata = {**logged_in(bank, username), **({"turn_id": turn_id} if turn_id else {})}
    yes = tracker(
        text="yes", intent="affirm", metadata=metadata, slots=slots, message_id=message_id
    )
    await ActionBuyGiftCard().run(dispatcher, yes, DOMAIN)
    receipt = dict(dispatcher.messages[-1])
    if "code" in receipt:
        receipt["code"] = reveal(receipt["code"])
    return receipt


class GatewayStub:
    """A real HTTP server answering POST /internal/pii/resolve like the gateway."""

    def __init__(self) -> None:
        self.refs: dict[tuple[str, str], str] = {}
        self.calls: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.calls.append(body)
                if self.path != "/internal/pii/resolve":
                    self._send(404, {"type": "not-found"})
                elif self.headers.get("X-Service-Token") != SERVICE_TOKEN:
                    self._send(401, {"type": "bad-service-token"})
                elif (session_of(body["credential"]), body["ref"]) not in stub.refs:
                    self._send(404, {"type": "unknown-reference"})
                else:
                    value = stub.refs[(session_of(body["credential"]), body["ref"])]
                    self._send(200, {"kind": "gift_card", "value": value})

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture(autouse=True)
def fresh_gateway_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gateway_client, "_client", None)


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[GatewayStub]:
    stub = GatewayStub()
    thread = threading.Thread(target=stub.server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("GATEWAY_URL", stub.url)
    monkeypatch.setenv("SERVICE_TOKEN", SERVICE_TOKEN)
    get_settings.cache_clear()
    try:
        yield stub
    finally:
        stub.server.shutdown()
        stub.server.server_close()
        get_settings.cache_clear()


# --- buying, checking, redeeming ----------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "name"),
    [
        ("for my sister Maria", "Maria"),
        ("it's for my friend, John Smith", "John Smith"),
        ("to my colleague Jean-Luc Picard", "Jean-Luc Picard"),
        ("Anna Schmidt", "Anna Schmidt"),
        ("for my mum", "my mum"),
    ],
)
def test_the_card_shows_the_name_not_the_relation(answer: str, name: str) -> None:
    assert recipient_name(answer) == name


async def test_no_message_in_the_request_and_yes_is_not_a_message(
    dispatcher, use_core_banking
) -> None:
    metadata = logged_in(use_core_banking)
    request = tracker(
        text="buy a 40 euro gift card for Lena with no message",
        intent="buy_gift_card",
        metadata=metadata,
        entities=[entity("amount", "40"), entity("currency", "EUR")],
    )
    slots = slot_events(await ValidateBuyGiftCardForm().run(dispatcher, request, DOMAIN))
    assert (slots["gift_recipient_name"], slots["gift_message"]) == ("Lena", NO_MESSAGE)
    answer = tracker(
        text="yes",
        intent="affirm",
        metadata=metadata,
        requested="gift_message",
        slots={"gift_amount": "40.00", "gift_recipient_name": "Lena"},
    )
    slots = slot_events(await ValidateBuyGiftCardForm().run(dispatcher, answer, DOMAIN))
    assert slots["gift_message"] is None
    assert said(dispatcher) == ["utter_type_gift_message"]
    # A button's payload is no message either (the e2e test once bought a card whose
    # message was "/affirm"), nor a recipient's name.
    pressed = tracker(
        text="/affirm",
        intent="affirm",
        metadata=metadata,
        requested="gift_message",
        slots={"gift_amount": "40.00", "gift_recipient_name": "Lena"},
    )
    slots = slot_events(await ValidateBuyGiftCardForm().run(dispatcher, pressed, DOMAIN))
    assert slots["gift_message"] is None
    named = tracker(
        text="/affirm",
        intent="affirm",
        metadata=metadata,
        requested="gift_recipient_name",
        slots={"gift_amount": "40.00"},
    )
    slots = slot_events(await ValidateBuyGiftCardForm().run(dispatcher, named, DOMAIN))
    assert slots.get("gift_recipient_name") is None
    assert said(dispatcher)[1:] == ["utter_type_gift_message", "utter_invalid_gift_recipient"]


async def test_a_relation_and_name_in_the_request(dispatcher, use_core_banking) -> None:
    request = tracker(
        text="buy a gift card for my brother Tom for 30 euros",
        intent="buy_gift_card",
        metadata=logged_in(use_core_banking),
        entities=[entity("amount", "30"), entity("currency", "EUR")],
    )
    events = await ValidateBuyGiftCardForm().run(dispatcher, request, DOMAIN)
    assert slot_events(events)["gift_recipient_name"] == "Tom"


async def test_a_relation_without_a_name_is_no_recipient(dispatcher, use_core_banking) -> None:
    """ "for my mom": the card would show "my mom"; her name is asked for instead."""
    request = tracker(
        text="buy a 50 euro gift card for my mom",
        intent="buy_gift_card",
        metadata=logged_in(use_core_banking),
        entities=[entity("amount", "50"), entity("currency", "EUR"), entity("relation", "mom")],
    )
    events = await ValidateBuyGiftCardForm().run(dispatcher, request, DOMAIN)
    assert slot_events(events).get("gift_recipient_name") is None
    await ActionAskGiftRecipientName().run(dispatcher, request, DOMAIN)
    assert dispatcher.messages[-1]["response"] == "utter_ask_gift_recipient_relation_name"
    assert dispatcher.messages[-1]["relation"] == "mom"


async def test_the_name_asked_after_a_relation_is_the_recipient(
    dispatcher, use_core_banking
) -> None:
    asked = {"gift_amount": "50.00"}
    again = tracker(
        text="my mom",
        metadata=logged_in(use_core_banking),
        entities=[entity("relation", "mom")],
        slots=asked,
        requested="gift_recipient_name",
    )
    events = await ValidateBuyGiftCardForm().run(dispatcher, again, DOMAIN)
    assert slot_events(events).get("gift_recipient_name") is None
    answer = tracker(
        text="Anna Schmidt",
        metadata=logged_in(use_core_banking),
        slots=asked,
        requested="gift_recipient_name",
    )
    events = await ValidateBuyGiftCardForm().run(dispatcher, answer, DOMAIN)
    assert slot_events(events)["gift_recipient_name"] == "Anna Schmidt"
    await ActionAskGiftRecipientName().run(dispatcher, answer, DOMAIN)
    assert dispatcher.messages[-1]["response"] == "utter_ask_gift_recipient_name"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gift card for my nephew Tom, 25 euros, message happy birthday", "happy birthday"),
        ("a 25 euro gift card for Tom and a note saying well done!", "well done!"),
        ("25 euro gift card for Tom saying congrats", "congrats"),
        ("25 euro gift card for Tom with the message: see you soon", "see you soon"),
    ],
)
async def test_the_message_given_in_the_request_is_kept(
    text: str, message: str, dispatcher, use_core_banking
) -> None:
    request = tracker(
        text=text,
        intent="buy_gift_card",
        metadata=logged_in(use_core_banking),
        entities=[entity("amount", "25"), entity("currency", "EUR")],
    )
    events = await ValidateBuyGiftCardForm().run(dispatcher, request, DOMAIN)
    assert slot_events(events)["gift_message"] == message


async def test_buy_check_and_redeem_a_card(dispatcher, use_core_banking, gateway) -> None:
    metadata = logged_in(use_core_banking)
    before = await balances(use_core_banking)

    # The request fills amount, recipient, message and (by default) the account.
    request = tracker(
        text="send a 50 euro gift card to Anna with the message Happy birthday!",
        intent="buy_gift_card",
        metadata=metadata,
        entities=[entity("amount", "50"), entity("currency", "EUR")],
    )
    events = await ValidateBuyGiftCardForm().run(dispatcher, request, DOMAIN)
    slots = slot_events(events)
    assert slots == {
        "gift_amount": "50.00",
        "gift_recipient_name": "Anna",
        "gift_message": "Happy birthday!",
        "gift_source_account": "checking",
    }

    await ActionAskBuyGiftCardConfirmed().run(dispatcher, tracker(slots=slots), DOMAIN)
    summary = dispatcher.messages[-1]
    assert summary["response"] == "utter_confirm_buy_gift_card"
    assert (summary["amount"], summary["recipient"], summary["account_label"]) == (
        "50.00 EUR",
        "Anna",
        "checking account",
    )

    yes = tracker(
        text="yes",
        intent="affirm",
        metadata=metadata,
        message_id="buy-1",
        slots={**slots, "buy_gift_card_confirmed": True},
    )
    events = await ActionBuyGiftCard().run(dispatcher, yes, DOMAIN)
    receipt = dispatcher.messages[-1]
    assert receipt["response"] == "utter_gift_card_bought"
    # What Rasa's tracker keeps of the receipt is sealed: the code only in ciphertext.
    code = reveal(receipt["code"])
    assert code not in json.dumps(dispatcher.messages)
    assert normalise_code(code) and receipt["last4"] == last4(code)
    assert all(value is None for value in slot_events(events).values())
    after_buy = await balances(use_core_banking)
    assert after_buy["checking"] == before["checking"] - 5000
    receipt_at = len(dispatcher.messages)

    # Balance, with the code masked by the gateway: resolved through the stub.
    gateway.refs[("session-under-test", "gc_0123abcd")] = code
    ask = tracker(
        text="how much is on [giftcard:gc_0123abcd]",
        intent="check_gift_card_balance",
        metadata=metadata,
        entities=[entity("gift_card_ref", "gc_0123abcd")],
    )
    events = await ValidateCheckGiftCardBalanceForm().run(dispatcher, ask, DOMAIN)
    slots = slot_events(events)
    assert slots == {"gift_card_code": "ref:gc_0123abcd", "gift_card_last4": receipt["last4"]}
    await ActionCheckGiftCardBalance().run(
        dispatcher, tracker(metadata=metadata, slots=slots), DOMAIN
    )
    shown = dispatcher.messages[-1]
    assert shown["response"] == "utter_gift_card_balance"
    assert (shown["balance"], shown["last4"], shown["status"]) == (
        "50.00 EUR",
        receipt["last4"],
        "active",
    )
    # The gateway is asked with the turn's sealed credential, which names the session.
    assert gateway.calls[-1]["ref"] == "gc_0123abcd"
    assert session_of(gateway.calls[-1]["credential"]) == "session-under-test"

    # Redeem part into savings, then the rest (raw code, "all") into checking.
    redeem = tracker(
        text="redeem 20 euros from [giftcard:gc_0123abcd] into my savings",
        intent="redeem_gift_card",
        metadata=metadata,
        entities=[
            entity("gift_card_ref", "gc_0123abcd"),
            entity("amount", "20"),
            entity("currency", "EUR"),
            entity("account_type", "savings", "to"),
        ],
    )
    slots = slot_events(await ValidateRedeemGiftCardForm().run(dispatcher, redeem, DOMAIN))
    assert slots == {
        "gift_card_code": "ref:gc_0123abcd",
        "gift_card_last4": receipt["last4"],
        "redeem_amount": "20.00",
        "redeem_target_account": "savings",
    }
    await ActionAskRedeemGiftCardConfirmed().run(dispatcher, tracker(slots=slots), DOMAIN)
    assert dispatcher.messages[-1]["amount"] == "20.00 EUR"
    yes = tracker(
        text="yes",
        intent="affirm",
        metadata=metadata,
        message_id="redeem-1",
        slots={**slots, "redeem_gift_card_confirmed": True},
    )
    await ActionRedeemGiftCard().run(dispatcher, yes, DOMAIN)
    done = dispatcher.messages[-1]
    assert done["response"] == "utter_gift_card_redeemed"
    assert (done["amount"], done["balance"], done["account_label"]) == (
        "20.00 EUR",
        "30.00 EUR",
        "savings account",
    )

    rest = tracker(
        text=f"redeem all of {code}",
        intent="redeem_gift_card",
        metadata=metadata,
        entities=[entity("gift_card_code", code)],
    )
    slots = slot_events(await ValidateRedeemGiftCardForm().run(dispatcher, rest, DOMAIN))
    assert slots["redeem_amount"] == "all" and slots["redeem_target_account"] == "checking"
    await ActionAskRedeemGiftCardConfirmed().run(dispatcher, tracker(slots=slots), DOMAIN)
    assert dispatcher.messages[-1]["amount"] == "the full balance"
    yes = tracker(
        text="yes",
        intent="affirm",
        metadata=metadata,
        message_id="redeem-2",
        slots={**slots, "redeem_gift_card_confirmed": True},
    )
    await ActionRedeemGiftCard().run(dispatcher, yes, DOMAIN)
    assert (dispatcher.messages[-1]["amount"], dispatcher.messages[-1]["balance"]) == (
        "30.00 EUR",
        "0.00 EUR",
    )
    after = await balances(use_core_banking)
    assert after["checking"] == before["checking"] - 5000 + 3000
    assert after["savings"] == before["savings"] + 2000

    # Nothing left: a plain answer.
    again = tracker(
        text="yes",
        intent="affirm",
        metadata=metadata,
        message_id="redeem-3",
        slots={**slots, "redeem_gift_card_confirmed": True},
    )
    await ActionRedeemGiftCard().run(dispatcher, again, DOMAIN)
    assert said(dispatcher)[-1] == "utter_gift_card_insufficient_balance"
    assert dispatcher.messages[-1]["balance"] == "0.00 EUR"
    # After the receipt no reply repeats the code, not even in part beyond its last four.
    later = json.dumps(dispatcher.messages[receipt_at:], ensure_ascii=False)
    assert code not in later and code[:9] not in later


async def test_a_retried_purchase_pays_once(dispatcher, use_core_banking) -> None:
    before = await balances(use_core_banking)
    first = await buy(use_core_banking, dispatcher, "12.34", message_id="retry-me")
    second = await buy(use_core_banking, dispatcher, "12.34", message_id="retry-me")
    assert first["response"] == "utter_gift_card_bought" and first["code"]
    assert second["response"] == "utter_gift_card_already_bought"
    assert second["last4"] == first["last4"] and "code" not in second
    assert (await balances(use_core_banking))["checking"] == before["checking"] - 1234
    third = await buy(use_core_banking, dispatcher, "12.34", message_id="another-turn")
    assert third["response"] == "utter_gift_card_bought" and third["code"] != first["code"]
    assert (await balances(use_core_banking))["checking"] == before["checking"] - 2468


async def test_a_gateway_retry_of_the_purchase_turn_pays_once(dispatcher, use_core_banking) -> None:
    # A new Rasa message_id per HTTP call; the gateway's turn_id stays the same.
    before = await balances(use_core_banking)
    first = await buy(use_core_banking, dispatcher, "3.21", message_id="rasa-a", turn_id="s9:m4")
    second = await buy(use_core_banking, dispatcher, "3.21", message_id="rasa-b", turn_id="s9:m4")
    assert first["response"] == "utter_gift_card_bought"
    assert second["response"] == "utter_gift_card_already_bought"
    assert second["last4"] == first["last4"]
    assert (await balances(use_core_banking))["checking"] == before["checking"] - 321


def test_idempotency_key_follows_the_confirming_turn() -> None:
    key = idempotency_key(tracker(message_id="m1"), "buy")
    assert key == idempotency_key(tracker(message_id="m1"), "buy")
    assert key != idempotency_key(tracker(message_id="m2"), "buy")
    assert key != idempotency_key(tracker(message_id="m1", sender_id="other"), "buy")
    assert key != idempotency_key(tracker(message_id="m1"), "redeem")
    assert len(key) == 64


async def test_amount_validation(dispatcher, use_core_banking) -> None:
    validator = ValidateBuyGiftCardForm()
    answer = tracker(
        text="x",
        metadata=logged_in(use_core_banking),
        requested="gift_amount",
        slots={"gift_source_account": "checking"},
    )
    for bad in ("0", "-5", "lots", "12.345"):
        assert await validator.validate_gift_amount(bad, dispatcher, answer, DOMAIN) == {
            "gift_amount": None
        }
    assert await validator.validate_gift_amount("999999", dispatcher, answer, DOMAIN) == {
        "gift_amount": None
    }
    assert said(dispatcher) == ["utter_invalid_gift_amount"] * 4 + [
        "utter_gift_amount_over_balance"
    ]
    dollars = tracker(
        text="20 dollars",
        metadata=logged_in(use_core_banking),
        entities=[entity("amount", "20"), entity("currency", "USD")],
    )
    assert await validator.validate_gift_amount("20", dispatcher, dollars, DOMAIN) == {
        "gift_amount": None
    }
    assert said(dispatcher)[-1] == "utter_gift_card_eur_only"
    assert await validator.validate_gift_amount("25,5", dispatcher, answer, DOMAIN) == {
        "gift_amount": "25.50"
    }


async def test_message_is_optional_and_answers_are_free_text(dispatcher, use_core_banking) -> None:
    validator = ValidateBuyGiftCardForm()
    metadata = logged_in(use_core_banking)
    for text, intent in (("no message", "inform"), ("no", "deny"), ("/deny", "deny")):
        answer = tracker(text=text, intent=intent, metadata=metadata, requested="gift_message")
        assert await validator.extract_gift_message(dispatcher, answer, DOMAIN) == {
            "gift_message": NO_MESSAGE
        }
    note = tracker(
        text="Congratulations on the new job!",
        intent="out_of_scope",
        metadata=metadata,
        requested="gift_message",
    )
    assert await validator.extract_gift_message(dispatcher, note, DOMAIN) == {
        "gift_message": "Congratulations on the new job!"
    }
    who = tracker(text="for my nephew Tom", metadata=metadata, requested="gift_recipient_name")
    assert await validator.extract_gift_recipient_name(dispatcher, who, DOMAIN) == {
        "gift_recipient_name": "Tom"
    }  # the name goes on the card
    # Asked for the message, "Happy 30th" is not a new amount; a balance question is no answer.
    birthday = tracker(
        text="Happy 30th!",
        metadata=metadata,
        requested="gift_message",
        entities=[entity("amount", "30")],
    )
    assert await validator.extract_gift_amount(dispatcher, birthday, DOMAIN) == {}
    balance = tracker(
        text="what's my balance",
        intent="check_balance",
        metadata=metadata,
        requested="gift_message",
    )
    assert slot_events(await validator.run(dispatcher, balance, DOMAIN)) == {}


async def test_source_account_defaults_to_checking_or_follows_the_text(
    dispatcher, use_core_banking
) -> None:
    metadata = logged_in(use_core_banking)
    validator = ValidateBuyGiftCardForm()
    plain = tracker(text="buy a gift card", intent="buy_gift_card", metadata=metadata)
    assert await validator.extract_gift_source_account(dispatcher, plain, DOMAIN) == {
        "gift_source_account": "checking"
    }
    savings = tracker(
        text="buy a gift card and pay from my savings",
        intent="buy_gift_card",
        metadata=metadata,
        entities=[entity("account_type", "savings", "from")],
    )
    assert await validator.extract_gift_source_account(dispatcher, savings, DOMAIN) == {
        "gift_source_account": "savings"
    }


async def test_saying_no_buys_nothing(dispatcher, use_core_banking) -> None:
    before = await balances(use_core_banking)
    slots = {
        "gift_amount": "10.00",
        "gift_recipient_name": "Tom",
        "gift_message": NO_MESSAGE,
        "gift_source_account": "checking",
        "buy_gift_card_confirmed": False,
    }
    await ActionBuyGiftCard().run(
        dispatcher,
        tracker(intent="deny", slots=slots, metadata=logged_in(use_core_banking)),
        DOMAIN,
    )
    assert said(dispatcher) == ["utter_buy_gift_card_cancelled"]
    assert await balances(use_core_banking) == before


async def test_cancel_actions_reset_their_slots(dispatcher) -> None:
    expected: dict[type[Action], tuple[str, str]] = {
        ActionCancelBuyGiftCardForm: ("utter_buy_gift_card_cancelled", "gift_amount"),
        ActionCancelCheckGiftCardBalanceForm: (
            "utter_check_gift_card_balance_cancelled",
            "gift_card_code",
        ),
        ActionCancelRedeemGiftCardForm: ("utter_redeem_gift_card_cancelled", "redeem_amount"),
    }
    for action, (response, slot) in expected.items():
        events = await action().run(dispatcher, tracker(intent="cancel"), DOMAIN)
        assert said(dispatcher)[-1] == response
        assert slot_events(events)[slot] is None


# --- guests, errors -----------------------------------------------------------------------


async def test_guest_is_asked_to_log_in_to_buy_or_redeem(dispatcher) -> None:
    guest = tracker(
        text=f"redeem gift card {well_formed_unknown_code()}", intent="redeem_gift_card"
    )
    for validator in (ValidateBuyGiftCardForm(), ValidateRedeemGiftCardForm()):
        assert slot_events(await validator.run(dispatcher, guest, DOMAIN)) == {
            "requested_slot": None
        }
    for submit in (ActionBuyGiftCard(), ActionRedeemGiftCard()):
        await submit.run(dispatcher, guest, DOMAIN)
    assert said(dispatcher) == ["utter_login_required"] * 2


async def test_guest_can_check_a_balance(use_core_banking) -> None:
    receipt = await buy(use_core_banking, CollectingDispatcher(), "12.00", message_id="guest-gift")
    code = receipt["code"]
    dispatcher = CollectingDispatcher()
    asked = tracker(
        text=f"check gift card {code}",
        intent="check_gift_card_balance",
        entities=[entity("gift_card_code", code)],
        sender_id="guest-session",
        metadata=GUEST,
    )
    filled = slot_events(await ValidateCheckGiftCardBalanceForm().run(dispatcher, asked, DOMAIN))
    assert filled["gift_card_code"] == code and filled["gift_card_last4"] == last4(code)
    guest = tracker(
        slots={"gift_card_code": code, "gift_card_last4": last4(code)},
        sender_id="guest-session",
        metadata=GUEST,
    )
    await ActionCheckGiftCardBalance().run(dispatcher, guest, DOMAIN)
    assert said(dispatcher) == ["utter_gift_card_balance"]
    assert dispatcher.messages[0]["balance"] == "12.00 EUR"
    assert code not in json.dumps(dispatcher.messages)


async def test_backend_down_is_said_plainly(dispatcher, unreachable_core_banking) -> None:
    metadata = sealed_metadata("someone", "a-token")
    code = well_formed_unknown_code()
    slots = {
        "gift_amount": "10.00",
        "gift_recipient_name": "Tom",
        "gift_message": NO_MESSAGE,
        "gift_source_account": "checking",
        "buy_gift_card_confirmed": True,
        "gift_card_code": code,
        "gift_card_last4": code[-4:],
        "redeem_amount": "all",
        "redeem_target_account": "checking",
        "redeem_gift_card_confirmed": True,
    }
    yes = tracker(text="yes", intent="affirm", metadata=metadata, slots=slots)
    for submit in (ActionBuyGiftCard(), ActionCheckGiftCardBalance(), ActionRedeemGiftCard()):
        await submit.run(dispatcher, yes, DOMAIN)
    assert said(dispatcher) == ["utter_backend_unavailable"] * 3


async def test_codes_are_checked_before_the_bank_is_asked(
    dispatcher, use_core_banking, gateway
) -> None:
    validator = ValidateCheckGiftCardBalanceForm()
    metadata = logged_in(use_core_banking)
    answer = tracker(text="ABCD-EFGH", metadata=metadata, requested="gift_card_code")
    assert await validator.extract_gift_card_code(dispatcher, answer, DOMAIN) == {
        "gift_card_code": "ABCD-EFGH"
    }
    typo = well_formed_unknown_code()
    typo = typo[:-1] + ("0" if typo[-1] != "0" else "1")  # a wrong check character
    for bad in ("ABCD-EFGH", typo):
        assert await validator.validate_gift_card_code(bad, dispatcher, answer, DOMAIN) == {
            "gift_card_code": None,
            "gift_card_last4": None,
        }
    assert said(dispatcher) == ["utter_gift_card_code_invalid"] * 2
    # An expired reference: ask for the code again.
    assert await validator.validate_gift_card_code("ref:gc_gone", dispatcher, answer, DOMAIN) == {
        "gift_card_code": None,
        "gift_card_last4": None,
    }
    assert said(dispatcher)[-1] == "utter_gift_card_ref_expired"


async def test_gateway_down_is_said_plainly(dispatcher, use_core_banking, monkeypatch) -> None:
    monkeypatch.setenv("GATEWAY_URL", "http://127.0.0.1:9")
    get_settings.cache_clear()
    validator = ValidateRedeemGiftCardForm()
    answer = tracker(metadata=logged_in(use_core_banking), requested="gift_card_code")
    assert (await validator.validate_gift_card_code("ref:gc_x", dispatcher, answer, DOMAIN))[
        "gift_card_code"
    ] is None
    assert said(dispatcher) == ["utter_gift_card_lookup_unavailable"]


async def test_unknown_blocked_and_expired_cards(dispatcher, use_core_banking) -> None:
    metadata = logged_in(use_core_banking)
    unknown = well_formed_unknown_code()
    await ActionCheckGiftCardBalance().run(
        dispatcher,
        tracker(
            metadata=metadata, slots={"gift_card_code": unknown, "gift_card_last4": unknown[-4:]}
        ),
        DOMAIN,
    )
    assert said(dispatcher) == ["utter_gift_card_not_found"]
    assert dispatcher.messages[-1]["last4"] == unknown[-4:]

    token = use_core_banking.token("demo002")
    blocked = (await buy(use_core_banking, dispatcher, "1", message_id="to-block"))["code"]
    expired = (await buy(use_core_banking, dispatcher, "1", message_id="to-expire"))["code"]
    cards = httpx.get(
        f"{use_core_banking.url}/v1/gift-cards", headers={"Authorization": f"Bearer {token}"}
    ).json()["data"]
    by_last4 = {c["last4"]: c["id"] for c in cards}
    blocked_id = by_last4[last4(blocked)]
    httpx.post(
        f"{use_core_banking.url}/v1/gift-cards/{blocked_id}/block",
        headers={"Authorization": f"Bearer {token}"},
    ).raise_for_status()
    with sqlite3.connect(use_core_banking.database) as conn:
        conn.execute(
            "UPDATE gift_cards SET expires_at = '2020-01-01 00:00:00.000000' WHERE id = ?",
            (by_last4[last4(expired)],),
        )
    for code, response in (
        (blocked, "utter_gift_card_blocked"),
        (expired, "utter_gift_card_expired"),
    ):
        slots = {
            "gift_card_code": code,
            "gift_card_last4": last4(code),
            "redeem_amount": "all",
            "redeem_target_account": "checking",
            "redeem_gift_card_confirmed": True,
        }
        await ActionRedeemGiftCard().run(
            dispatcher,
            tracker(intent="affirm", metadata=metadata, slots=slots, message_id=code),
            DOMAIN,
        )
        assert said(dispatcher)[-1] == response


async def test_too_many_wrong_codes_lock_lookups(dispatcher, use_core_banking, monkeypatch) -> None:
    """core_banking answers 429 after five wrong codes from one customer or address. This
    test comes from its own loopback address (127.0.0.2) as demo001, so the lockout it
    causes does not touch the other tests (127.0.0.1, demo002)."""
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    monkeypatch.setattr(
        actions.core_banking_api.client,
        "_client",
        httpx.AsyncClient(base_url=use_core_banking.url, transport=transport),
    )
    metadata = logged_in(use_core_banking, "demo001")
    for _ in range(5):
        code = well_formed_unknown_code()
        await ActionCheckGiftCardBalance().run(
            dispatcher,
            tracker(
                metadata=metadata, slots={"gift_card_code": code, "gift_card_last4": code[-4:]}
            ),
            DOMAIN,
        )
    code = well_formed_unknown_code()
    await ActionCheckGiftCardBalance().run(
        dispatcher,
        tracker(metadata=metadata, slots={"gift_card_code": code, "gift_card_last4": code[-4:]}),
        DOMAIN,
    )
    assert said(dispatcher) == ["utter_gift_card_not_found"] * 5 + ["utter_gift_card_locked_out"]


async def test_other_answers_are_checked(dispatcher, use_core_banking) -> None:
    metadata = logged_in(use_core_banking)
    buy_form, redeem_form = ValidateBuyGiftCardForm(), ValidateRedeemGiftCardForm()
    answer = tracker(text="x", metadata=metadata)
    assert await buy_form.validate_gift_recipient_name("  ", dispatcher, answer, DOMAIN) == {
        "gift_recipient_name": None
    }
    assert await buy_form.validate_gift_recipient_name("Yes!", dispatcher, answer, DOMAIN) == {
        "gift_recipient_name": None
    }
    assert await buy_form.validate_gift_message("x" * 501, dispatcher, answer, DOMAIN) == {
        "gift_message": None
    }
    assert await buy_form.validate_gift_source_account("joint", dispatcher, answer, DOMAIN) == {
        "gift_source_account": None
    }
    assert await redeem_form.validate_redeem_amount("nope", dispatcher, answer, DOMAIN) == {
        "redeem_amount": None
    }
    assert await redeem_form.validate_redeem_target_account(
        "joint", dispatcher, answer, DOMAIN
    ) == {"redeem_target_account": None}
    assert said(dispatcher) == [
        "utter_invalid_gift_recipient",
        "utter_invalid_gift_recipient",
        "utter_gift_message_too_long",
        "utter_which_gift_account",
        "utter_invalid_redeem_amount",
        "utter_which_gift_account",
    ]
    everything = tracker(text="all of it please", metadata=metadata, requested="redeem_amount")
    assert await redeem_form.extract_redeem_amount(dispatcher, everything, DOMAIN) == {
        "redeem_amount": "all"
    }


@pytest.mark.parametrize("slot", ["buy_gift_card_confirmed", "redeem_gift_card_confirmed"])
async def test_confirmations_want_yes_or_no(slot: str, dispatcher) -> None:
    validator = (
        ValidateBuyGiftCardForm() if slot.startswith("buy") else ValidateRedeemGiftCardForm()
    )
    extract = getattr(validator, f"extract_{slot}")
    validate = getattr(validator, f"validate_{slot}")
    other = tracker(text="what?", intent="inform", requested=slot)
    assert await extract(dispatcher, other, DOMAIN) == {slot: None}  # asked again
    no = tracker(text="no", intent="deny", requested=slot)
    assert await extract(dispatcher, no, DOMAIN) == {}  # the domain's from_intent mapping
    assert await validate(False, dispatcher, no, DOMAIN) == {slot: False}
    assert await validate("maybe", dispatcher, no, DOMAIN) == {slot: None}


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("how long does a transfer take?", "pending_transfer"),
        ("why was my card declined", "declined_card_payment"),
        ("are you a bot?", "bot_challenge"),
        ("thanks", "thank"),  # answered, then the code is asked again
        ("hold on", "wait"),  # answered, then the code is asked again
        ("bye", "goodbye"),  # ends the task
    ],
)
async def test_a_question_thanks_or_bye_while_a_code_is_asked_is_let_through(
    text: str, intent: str, dispatcher, use_core_banking
) -> None:
    # Not taken as a wrong code: the form rejects it and a digression rule answers it.
    question = tracker(
        text=text, intent=intent, metadata=logged_in(use_core_banking), requested="gift_card_code"
    )
    validator = ValidateCheckGiftCardBalanceForm()
    assert await validator.extract_gift_card_code(dispatcher, question, DOMAIN) == {}
    assert said(dispatcher) == []


@pytest.mark.parametrize(
    "text", ["I don't have the code", "can't find it", "it's not with me", "I lost the code"]
)
async def test_no_code_at_hand_is_told_where_to_find_it(
    text: str, dispatcher, use_core_banking
) -> None:
    # Whatever the NLU made of it ("I don't have the code": passcode_forgotten), it is
    # this form's answer: no support answer about app passcodes, no "wrong code".
    answer = tracker(
        text=text,
        intent="passcode_forgotten",
        metadata=logged_in(use_core_banking),
        requested="gift_card_code",
    )
    for validator in (ValidateCheckGiftCardBalanceForm(), ValidateRedeemGiftCardForm()):
        assert await validator.extract_gift_card_code(dispatcher, answer, DOMAIN) == {
            "gift_card_code": None
        }
    assert said(dispatcher) == ["utter_gift_card_code_help"] * 2
    # The whole validation says it once: the emptied slot is no wrong code.
    quiet = CollectingDispatcher()
    events = await ValidateCheckGiftCardBalanceForm().run(quiet, answer, DOMAIN)
    assert said(quiet) == ["utter_gift_card_code_help"]
    assert slot_events(events)["gift_card_code"] is None


async def test_a_question_mark_makes_a_support_topic_no_gift_message(
    dispatcher, use_core_banking
) -> None:
    question = tracker(
        text="is there a fee for gift cards?",
        intent="top_up_by_card_charge",
        metadata=logged_in(use_core_banking),
        requested="gift_message",
    )
    assert await ValidateBuyGiftCardForm().extract_gift_message(dispatcher, question, DOMAIN) == {}


@pytest.mark.parametrize(
    ("text", "intent", "entities", "requested", "slot", "expected"),
    [
        # A code typed with words the classifier reads as a support topic is still a code.
        (
            "the code is [giftcard:gc_ab12cd34]",
            "get_physical_card",
            [{"entity": "gift_card_ref", "value": "gc_ab12cd34"}],
            "gift_card_code",
            "gift_card_code",
            "ref:gc_ab12cd34",
        ),
        # A personal message is any text without a question mark, whatever its topic.
        (
            "Hope the new card brings you luck",
            "card_arrival",
            [],
            "gift_message",
            "gift_message",
            "Hope the new card brings you luck",
        ),
        # A short name is a name, whatever the classifier guessed.
        (
            "Lost Ark",
            "lost_or_stolen_card",
            [],
            "gift_recipient_name",
            "gift_recipient_name",
            "Lost Ark",
        ),
    ],
)
async def test_answers_stay_answers(
    text: str,
    intent: str,
    entities: list[dict[str, Any]],
    requested: str,
    slot: str,
    expected: str,
    dispatcher,
    use_core_banking,
) -> None:
    answer = tracker(
        text=text,
        intent=intent,
        entities=entities,
        requested=requested,
        metadata=logged_in(use_core_banking),
    )
    validator: Any = (
        ValidateCheckGiftCardBalanceForm()
        if slot == "gift_card_code"
        else ValidateBuyGiftCardForm()
    )
    extracted = await getattr(validator, f"extract_{slot}")(dispatcher, answer, DOMAIN)
    assert extracted == {slot: expected}


async def test_a_name_the_classifier_is_unsure_about_is_a_name(
    dispatcher, use_core_banking
) -> None:
    answer = tracker(
        text="Ciao Bella",
        intent="goodbye",
        requested="gift_recipient_name",
        metadata=logged_in(use_core_banking),
    )
    answer.latest_message["intent"]["confidence"] = 0.83  # as measured for this text
    assert await ValidateBuyGiftCardForm().extract_gift_recipient_name(
        dispatcher, answer, DOMAIN
    ) == {"gift_recipient_name": "Ciao Bella"}


async def test_a_guests_wrong_codes_count_against_their_address_not_their_session(
    use_core_banking,
) -> None:
    """Issue 13: a guest reset the lockout by starting a new session (a new sender id).
    Wrong codes now count against the address the gateway saw, sealed in the credential."""
    address = f"198.51.100.{random.randint(1, 250)}"
    outcomes = []
    for n in range(6):  # six sessions, one wrong code each, all from one address
        dispatcher = CollectingDispatcher()
        code = well_formed_unknown_code()
        session = f"guest-{n}-{random.random()}"
        metadata = sealed_metadata(None, None, session_id=session, client_ip=address)
        guest = tracker(
            slots={"gift_card_code": code, "gift_card_last4": last4(code)},
            sender_id=session,
            metadata=metadata,
        )
        await ActionCheckGiftCardBalance().run(dispatcher, guest, DOMAIN)
        outcomes.append(said(dispatcher)[-1])
    assert outcomes[:5] == ["utter_gift_card_not_found"] * 5
    assert outcomes[5] == "utter_gift_card_locked_out"


async def test_a_change_at_the_summary_replaces_the_amount_or_recipient(
    dispatcher, use_core_banking
) -> None:
    """ "actually make it 40" or "it's for Mila not Mia" at the gift card's summary were
    ignored (the conversation suite): the new value, and the summary shown again."""
    metadata = logged_in(use_core_banking)
    summary = {
        "gift_amount": "20.00",
        "gift_recipient_name": "Mia",
        "gift_message": NO_MESSAGE,
        "gift_source_account": "checking",
    }
    form = ValidateBuyGiftCardForm()
    amount = tracker(
        text="actually make it 40",
        intent="inform",
        metadata=metadata,
        requested="buy_gift_card_confirmed",
        slots=summary,
        entities=[entity("amount", "40")],
    )
    assert await form.extract_gift_amount(dispatcher, amount, DOMAIN) == {
        "gift_amount": "40",
        "buy_gift_card_confirmed": None,
    }
    name = tracker(
        text="it's for Mila not Mia",
        intent="inform",
        metadata=metadata,
        requested="buy_gift_card_confirmed",
        slots=summary,
    )
    assert await form.extract_gift_recipient_name(dispatcher, name, DOMAIN) == {
        "gift_recipient_name": "Mila",
        "buy_gift_card_confirmed": None,
    }
    same = tracker(
        text="yes, 20",
        intent="affirm",
        metadata=metadata,
        requested="buy_gift_card_confirmed",
        slots=summary,
        entities=[entity("amount", "20")],
    )
    assert await form.extract_gift_amount(dispatcher, same, DOMAIN) == {}


async def test_another_account_at_the_summary_pays_from_it(dispatcher, nlu) -> None:
    """ "pay it from my savings please" at the gift card's summary started a transfer
    (the NLU hears transfer_money): it is the account to pay from, and the summary is
    shown again; "to savings" is no account to pay from."""
    summary = {
        "gift_amount": "20.00",
        "gift_recipient_name": "Mia",
        "gift_source_account": "checking",
    }
    form = ValidateBuyGiftCardForm()
    for text, intent, expected in [
        (
            "pay it from my savings please",
            "transfer_money",
            {"gift_source_account": "savings", "buy_gift_card_confirmed": None},
        ),
        ("from checking, yes", "affirm", {}),  # the account it already is
    ]:
        said = tracker(
            text=text,
            intent=intent,
            requested="buy_gift_card_confirmed",
            slots=summary,
            entities=nlu(text),
        )
        assert await form.extract_gift_source_account(dispatcher, said, DOMAIN) == expected, text


@pytest.mark.parametrize(
    "text",
    [
        "gift card balance ABCD-EFGH-JKLM-NPQR-STUV",  # U is no code character
        "whats left on my gift card 7k3m-9qpx-2hvd-rt6w-4nc",  # one character short
        "check the balance of gift card 7K3M 9QPX 2HVD RT6W 4NCJX",  # one too many
    ],
)
async def test_a_mistyped_code_in_the_request_is_said_to_be_wrong(
    text: str, dispatcher, nlu
) -> None:
    """A code the gateway did not mask (it is no well-formed code) reaches the form as
    the NLU's `gift_card_code`: the form's check says it does not look right (and asks
    for the code again), instead of asking for a code as if none was given; the bank is
    not asked, so the guest's wrong-code count is not spent on a typo."""
    request = tracker(
        text=text, intent="check_gift_card_balance", metadata=GUEST, entities=nlu(text)
    )
    events = await ValidateCheckGiftCardBalanceForm().run(dispatcher, request, DOMAIN)
    assert slot_events(events) == {"gift_card_code": None, "gift_card_last4": None}
    assert said(dispatcher) == ["utter_gift_card_code_invalid"]
