"""The conversation files (tests/conversations/*.yml) read into checked dataclasses.

A file is a list of conversations; README.md in this folder describes the format. A
misspelt key or a check of the wrong shape is an error naming the conversation, so a
typo cannot silently turn a check off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
ACCOUNTS = ("checking", "savings")
CARD_STATUSES = ("active", "frozen", "cancelled", "lost", "stolen")


class SpecError(ValueError):
    pass


@dataclass(frozen=True)
class Expect:
    """Checks on one turn's reply: every bot frame's text joined, its buttons, handoffs."""

    contains: tuple[str, ...] = ()  # case-insensitive, whitespace-normalised fragments
    not_contains: tuple[str, ...] = ()
    matches: tuple[str, ...] = ()  # regexes (re.I | re.S), each must match somewhere
    not_matches: tuple[str, ...] = ()
    buttons: tuple[str, ...] = ()  # payloads (or their start) a button must offer
    handoff: bool | None = None  # True: a handoff frame (requested); False: none


@dataclass(frozen=True)
class Effect:
    """The customer's state after a turn, compared with the start of the conversation.
    None means "not checked here"; see Conversation.final_effect for the end."""

    balance_change: dict[str, int] | None = None  # account type -> minor units, others 0
    transfers_created: int | None = None
    payee_count_change: int | None = None
    payee_exists: tuple[str, ...] = ()  # case-insensitive fragment of a payee's name
    payee_absent: tuple[str, ...] = ()
    card_status: str | None = None  # the status of the card the customer started with
    gift_cards_bought: int | None = None
    gift_card_balance_minor: int | None = None  # the set-up gift card's balance now


@dataclass(frozen=True)
class Turn:
    user: str | None = None  # typed text; {gift_code} and {totp} are filled in
    payload: str | None = None  # a button payload such as /affirm
    expect: Expect = field(default_factory=Expect)
    effect: Effect | None = None

    @property
    def said(self) -> str:
        return self.user if self.user is not None else f"[button {self.payload}]"


@dataclass(frozen=True)
class Conversation:
    id: str
    file: str
    turns: tuple[Turn, ...]
    guest: bool = False
    gift_card_minor: int | None = None  # set-up: the customer buys one first ({gift_code})
    xfail: str | None = None
    customer_number: int | None = None  # demoNNN, one per logged-in conversation

    @property
    def needs_customer(self) -> bool:
        return not self.guest or self.gift_card_minor is not None

    def final_effect(self) -> Effect:
        """What must hold at the end: the last value each turn declared for every money,
        payee and card check, and no change at all for those no turn mentioned (so a
        conversation that never expects money to move fails if any did)."""
        last: dict[str, Any] = {
            "balance_change": {},
            "transfers_created": 0,
            "payee_count_change": 0,
            "card_status": "active",
            "gift_cards_bought": 0,
        }
        for turn in self.turns:
            if turn.effect is None:
                continue
            for name in last:
                value = getattr(turn.effect, name)
                if value is not None:
                    last[name] = value
        return Effect(**last)


TOP_KEYS = {"id", "turns", "guest", "setup", "xfail", "note"}
TURN_KEYS = {"user", "payload", "expect", "effect"}
EXPECT_KEYS = {"contains", "not_contains", "matches", "not_matches", "buttons", "handoff"}
EFFECT_KEYS = {f for f in Effect.__dataclass_fields__}
SETUP_KEYS = {"gift_card_minor"}


def _strings(where: str, value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) and v for v in items):
        raise SpecError(f"{where}: expected a string or a list of strings, got {value!r}")
    return tuple(items)


def _keys(where: str, data: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise SpecError(f"{where}: expected a mapping, got {data!r}")
    unknown = set(data) - allowed
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {sorted(unknown)}; allowed {sorted(allowed)}")
    return data


def _expect(where: str, data: Any) -> Expect:
    data = _keys(where, data or {}, EXPECT_KEYS)
    for pattern in [*data.get("matches", []), *data.get("not_matches", [])]:
        try:
            re.compile(pattern)
        except (re.error, TypeError) as error:
            raise SpecError(f"{where}: bad regex {pattern!r}: {error}") from error
    handoff = data.get("handoff")
    if handoff is not None and not isinstance(handoff, bool):
        raise SpecError(f"{where}: handoff must be true or false")
    return Expect(
        **{k: _strings(f"{where}.{k}", v) for k, v in data.items() if k != "handoff"},
        handoff=handoff,
    )


def _effect(where: str, data: Any) -> Effect:
    data = dict(_keys(where, data, EFFECT_KEYS))
    change = data.get("balance_change")
    if change is not None:
        _keys(f"{where}.balance_change", change, set(ACCOUNTS))
        if not all(isinstance(v, int) for v in change.values()):
            raise SpecError(f"{where}.balance_change: minor units are integers")
    if data.get("card_status") not in (None, *CARD_STATUSES):
        raise SpecError(f"{where}.card_status: one of {CARD_STATUSES}")
    for name in ("transfers_created", "payee_count_change", "gift_cards_bought"):
        if name in data and not isinstance(data[name], int):
            raise SpecError(f"{where}.{name}: an integer")
    for name in ("payee_exists", "payee_absent"):
        if name in data:
            data[name] = _strings(f"{where}.{name}", data[name])
    return Effect(**data)


def _turn(where: str, data: Any) -> Turn:
    data = _keys(where, data, TURN_KEYS)
    if ("user" in data) == ("payload" in data):
        raise SpecError(f"{where}: give exactly one of user: or payload:")
    said = data.get("user", data.get("payload"))
    if not isinstance(said, str) or not said:
        raise SpecError(f"{where}: user/payload must be a non-empty string")
    return Turn(
        user=data.get("user"),
        payload=data.get("payload"),
        expect=_expect(f"{where}.expect", data.get("expect")),
        effect=_effect(f"{where}.effect", data["effect"]) if "effect" in data else None,
    )


def _conversation(file: str, index: int, data: Any) -> Conversation:
    data = _keys(f"{file}[{index}]", data, TOP_KEYS)
    cid = data.get("id")
    if not isinstance(cid, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", cid):
        raise SpecError(f"{file}[{index}]: id must be lower-case words joined by '-'")
    turns = data.get("turns")
    if not isinstance(turns, list) or not turns:
        raise SpecError(f"{cid}: turns must be a non-empty list")
    setup = _keys(f"{cid}.setup", data.get("setup") or {}, SETUP_KEYS)
    xfail = data.get("xfail")
    if xfail is not None and not (isinstance(xfail, str) and xfail.strip()):
        raise SpecError(f"{cid}: xfail needs a one-line reason")
    conversation = Conversation(
        id=cid,
        file=file,
        turns=tuple(_turn(f"{cid}.turns[{i}]", t) for i, t in enumerate(turns)),
        guest=bool(data.get("guest", False)),
        gift_card_minor=setup.get("gift_card_minor"),
        xfail=xfail,
    )
    effects = any(t.effect for t in conversation.turns)
    if conversation.guest and effects and conversation.gift_card_minor is None:
        raise SpecError(f"{cid}: a guest conversation has no customer whose state to check")
    return conversation


def load_conversations(directory: Path = HERE) -> list[Conversation]:
    """Every conversation of every *.yml file, each logged-in one given its own demo
    customer (numbered in file and list order, so a run of a few gets the same ones)."""
    conversations: list[Conversation] = []
    seen: set[str] = set()
    number = 0
    for path in sorted(directory.glob("*.yml")):
        data = yaml.safe_load(path.read_text()) or []
        if not isinstance(data, list):
            raise SpecError(f"{path.name}: a file is a list of conversations")
        for index, item in enumerate(data):
            conversation = _conversation(path.name, index, item)
            if conversation.id in seen:
                raise SpecError(f"{conversation.id}: the id is used twice")
            seen.add(conversation.id)
            if conversation.needs_customer:
                number += 1
                conversation = replace(conversation, customer_number=number)
            conversations.append(conversation)
    return conversations
