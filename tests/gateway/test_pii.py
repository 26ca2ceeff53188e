"""PII masking: the pure module, then end to end (what Rasa and Redis see, and the
gift-card reference resolution endpoint)."""

from __future__ import annotations

import itertools
import re
import uuid

import httpx
import pytest
import redis

from gateway.chat.pii import (
    REDACTED,
    asks_for_secret,
    iban_valid,
    luhn_valid,
    mask,
    redact_reply,
)
from tests.gateway.conftest import SERVICE_TOKEN, ServerThread, StubRasa
from tests.gateway.test_ws import hello, socket, turn


def refs() -> itertools.count[int]:
    return itertools.count(1)


def masked(text: str, **kw: bool) -> str:
    counter = refs()
    return mask(text, make_ref=lambda: f"gc_{next(counter)}", **kw).text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card 4111 1111 1111 1111 please", "card [card •••• 1111] please"),
        ("4111-1111-1111-1111", "[card •••• 1111]"),
        ("5555555555554444", "[card •••• 4444]"),
        ("378282246310005 is amex", "[card •••• 0005] is amex"),  # 15 digits
        ("4111 1111 1111 1111 2027", "[card •••• 1111] 2027"),  # card then expiry year
        ("4111111111111112", "4111111111111112"),  # not Luhn-valid
        ("call 123456789012", "call 123456789012"),  # too short
        ("to DE89 3704 0044 0532 0130 00 now", "to DE89 3704 0044 0532 0130 00 now"),  # IBAN
        ("send 50 to DE89370400440532013000", "send 50 to DE89370400440532013000"),  # compact
        ("ES9121000418450200051332", "ES9121000418450200051332"),  # compact, 24 characters
        # A mistyped IBAN whose digits happen to pass Luhn: still an IBAN, for the bot to
        # call invalid, not a card.
        ("send 50 to DE89 3704 0044 0532 0130 01", "send 50 to DE89 3704 0044 0532 0130 01"),
        ("add DE12345678901234567890", "add DE12345678901234567890"),  # not a gift code
        # The same digits after letters that are no IBAN country: a card.
        ("QQ89 3704 0044 0532 0130 01", "QQ89 [card •••• 3001]"),
        ("on 2024-01-15 at 10:30", "on 2024-01-15 at 10:30"),
        ("code ABCD-EFGH-JKMN-PQRS-TV12-X ok", "code [giftcard:gc_1] ok"),
        ("abcd-efgh-jkmn-pqrs-tv12", "[giftcard:gc_1]"),
        ("ABCD EFGH JKMN PQRS TV12", "[giftcard:gc_1]"),
        ("ABCDEFGHJKMNPQRS1234", "[giftcard:gc_1]"),
        ("7K2P-9XQD-M4TR-0ZAB-C8NE", "[giftcard:gc_1]"),  # core_banking's display form
        ("7K2P-9XQD-M4TR-OZAB-C8NE", "[giftcard:gc_1]"),  # O typed for 0 (an accepted alias)
        ("1234-5678-9012-3456-7890", "1234-5678-9012-3456-7890"),  # digits only: no code
        ("NEED BEST CARD WHAT TEXT", "NEED BEST CARD WHAT TEXT"),  # letters only: words
    ],
)
def test_mask(text: str, expected: str) -> None:
    assert masked(text) == expected
    assert masked(expected) == expected  # idempotent


def test_replies_kept_for_staff_show_only_a_gift_codes_last_four() -> None:
    receipt = (
        "Done! Your €25.00 gift card for Anna is paid. Its code is "
        "7K2P-9XQD-M4TR-0ZAB-C8NE. Card 4111 1111 1111 1111, to DE89 3704 0044 0532 0130 00."
    )
    redacted = redact_reply(receipt)
    assert redacted == (
        "Done! Your €25.00 gift card for Anna is paid. Its code is "
        "[gift card •••• C8NE]. Card [card •••• 1111], to DE89 3704 0044 0532 0130 00."
    )
    assert redact_reply(redacted) == redacted
    assert redact_reply("Your balance is €1,234.56.") == "Your balance is €1,234.56."


def test_gift_card_refs_map_to_the_codes_as_typed() -> None:
    result = mask(
        "a ABCD-EFGH-JKMN-PQRS-TV12 b 0123456789ABCDEFGHJK",
        make_ref=iter(["gc_a", "gc_b"]).__next__,
    )
    assert result.text == "a [giftcard:gc_a] b [giftcard:gc_b]"
    assert result.gift_cards == {"gc_a": "ABCD-EFGH-JKMN-PQRS-TV12", "gc_b": "0123456789ABCDEFGHJK"}
    default = mask("ABCD-EFGH-JKMN-PQRS-TV12")
    assert re.fullmatch(r"\[giftcard:gc_[0-9a-f]{24}\]", default.text)


def test_cvv_only_right_after_the_bot_asked_and_only_bare_digits() -> None:
    assert mask(" 123 ", expecting_secret=True).text == REDACTED
    assert mask("1234", expecting_secret=True).redacted
    assert mask("123", expecting_secret=False).text == "123"
    assert mask("12345", expecting_secret=True).text == "12345"
    assert mask("it is 123", expecting_secret=True).text == "it is 123"
    assert asks_for_secret("Please enter the CVV on the back")
    assert asks_for_secret("What is the card's security code?")
    assert not asks_for_secret("Your balance is 12.00 EUR")


def test_checksums() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert iban_valid("DE89 3704 0044 0532 0130 00")
    assert not iban_valid("DE88 3704 0044 0532 0130 00")
    assert iban_valid("GB29 NWBK 6016 1331 9268 19")


def test_words_and_a_card_that_pass_mod_97_are_no_iban() -> None:
    # "ae12e369 pay with 4111 1111 1111 1111 ..." reads as AE12 + 19 characters whose
    # mod-97 check happens to pass (CI's random session tag did): only the country's
    # length and BBAN format show it is no IBAN, so the card must still be masked.
    for tag in ("ae12e369", "de03e369", "ff12e369"):
        assert masked(f"{tag} pay with 4111 1111 1111 1111") == (f"{tag} pay with [card •••• 1111]")
    assert masked("send to DE89 3704 0044 0532 0130 00 now") == (
        "send to DE89 3704 0044 0532 0130 00 now"
    )


def test_long_inputs_stay_fast() -> None:
    # Worst cases for the window search: thousands of one-digit groups, long runs.
    assert masked("1 " * 1000) == "1 " * 1000
    assert masked("9" * 2000) == "9" * 2000


async def test_rasa_and_redis_see_only_masked_text_and_refs_resolve(
    gateway: ServerThread, stub_rasa: StubRasa, redis_client: redis.Redis, redis_prefix: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    async with socket(gateway) as ws:
        sid = (await hello(ws))["session_id"]
        await turn(ws, f"{tag} pay with 4111 1111 1111 1111 and ABCD-EFGH-JKMN-PQRS-TV12", "p1")
        # CVV: a bare number right after the bot asked for it is not forwarded.
        await turn(ws, "cvv?", "p2")
        await turn(ws, "737", "p3")
        await turn(ws, "737", "p4")  # the bot did not ask again: a plain number
    sent = [c["message"] for c in stub_rasa.calls_from(sid)]
    match = re.fullmatch(rf"{tag} pay with \[card •••• 1111\] and \[giftcard:(gc_\w+)\]", sent[0])
    assert match, sent[0]
    assert sent[1:] == ["cvv?", REDACTED, "737"]
    stored = b""
    for key in redis_client.scan_iter(f"{redis_prefix}chat:{sid}*"):
        if redis_client.type(key) == b"hash":
            stored += b" ".join(redis_client.hgetall(key).values())  # type: ignore[arg-type]
    assert b"4111 1111" not in stored and b"ABCD-EFGH" not in stored
    assert b"[redacted]" in stored and b"737" in stored

    ref = match.group(1)
    credential = stub_rasa.calls_from(sid)[0]["metadata"]["credential"]
    # Another guest's own turn credential: valid, but for another session.
    async with socket(gateway) as other:
        other_sid = (await hello(other))["session_id"]
        await turn(other, "hello", "o1")
    other_credential = stub_rasa.calls_from(other_sid)[0]["metadata"]["credential"]
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        ok = await http.post(
            "/internal/pii/resolve",
            json={"credential": credential, "ref": ref},
            headers={"X-Service-Token": SERVICE_TOKEN},
        )
        assert ok.json() == {"kind": "gift_card", "value": "ABCD-EFGH-JKMN-PQRS-TV12"}
        for body, token, status in [
            ({"credential": credential, "ref": ref}, "wrong", 401),
            ({"credential": credential, "ref": ref}, None, 401),
            # The reference is hers: another session's credential does not resolve it.
            ({"credential": other_credential, "ref": ref}, SERVICE_TOKEN, 404),
            # A credential not sealed by the gateway is refused.
            ({"credential": "gAAAAAforged", "ref": ref}, SERVICE_TOKEN, 401),
            # The caller can no longer name the session (the attack of issue 13).
            ({"session_id": sid, "ref": ref}, SERVICE_TOKEN, 422),
        ]:
            headers = {"X-Service-Token": token} if token else {}
            response = await http.post("/internal/pii/resolve", json=body, headers=headers)
            assert response.status_code == status, body
            assert response.headers["content-type"] == "application/problem+json"


def test_a_gift_code_shaped_like_an_iban_is_still_masked() -> None:
    # 19 random characters and the check character, as core_banking makes them; one
    # that starts like an IBAN ("DE12" and mostly digits) is still a code.
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    data = "DE12345678901234567"
    total, double = 0, True
    for ch in reversed(data):
        value = alphabet.index(ch) * (2 if double else 1)
        total += value // 32 + value % 32
        double = not double
    code = data + alphabet[(32 - total % 32) % 32]
    assert masked(f"redeem {code}") == "redeem [giftcard:gc_1]"


async def test_the_queue_position_of_a_session_waiting_for_a_person(
    gateway: ServerThread, stub_rasa: StubRasa
) -> None:
    """POST /internal/handoff/position: the action server asks it when a customer asks
    for a person ("You're number 2 in the queue"). Longest wait first; a session not yet
    queued comes after everyone waiting; the session comes from the sealed credential."""
    sessions = []
    for name in ("first", "second"):
        async with socket(gateway) as ws:
            sid = (await hello(ws))["session_id"]
            await turn(ws, f"handoff please {name}", f"{name}1")
        sessions.append(stub_rasa.calls_from(sid)[0]["metadata"]["credential"])
    async with socket(gateway) as ws:
        sid = (await hello(ws))["session_id"]
        await turn(ws, "hello", "n1")
    newcomer = stub_rasa.calls_from(sid)[0]["metadata"]["credential"]
    async with httpx.AsyncClient(base_url=gateway.url) as http:

        async def position(credential: str, token: str | None = SERVICE_TOKEN) -> httpx.Response:
            headers = {"X-Service-Token": token} if token else {}
            return await http.post(
                "/internal/handoff/position", json={"credential": credential}, headers=headers
            )

        first, second, new = [(await position(c)).json() for c in (*sessions, newcomer)]
        assert first["position"] < second["position"]  # the longer wait goes first
        assert second["position"] == first["position"] + 1
        assert new["position"] == new["waiting"] == second["waiting"] + 1
        assert (await position(sessions[0], "wrong")).status_code == 401
        assert (await position("gAAAAAforged")).status_code == 401
