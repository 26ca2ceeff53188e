"""Gift cards: buy one (actions/gift_card_purchase.py), check a card's balance (here),
redeem a card (actions/gift_card_redemption.py); what they share is here.

Codes are secrets. The gateway masks a code typed in the chat as `[giftcard:<ref>]`
(NLU entity `gift_card_ref`); slots keep only `ref:<ref>`, and the code is fetched from
the gateway (actions/gateway_client.py) right before core_banking needs it. A raw code
(entity `gift_card_code`, e.g. when Rasa is called without the gateway) works too.
Replies never repeat a code a customer typed: only its last four characters. The one
exception is the purchase receipt, which shows the new code once (core_banking will
never return it again).

Buying and redeeming move money, so they run only after a yes, with an
`Idempotency-Key` derived from that yes (sender id plus the message's id): a retried
action gets core_banking's original answer and never pays twice.

Limitation: core_banking answers gift-card balance and redemption only for a logged-in
customer (Bearer token), so guests are asked to log in for every gift-card task.
"""

import re
from abc import abstractmethod
from collections.abc import Mapping
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import core_banking_api, gateway_client
from actions.core_banking_api import (
    Account,
    Answer,
    AnswerTable,
    Problem,
    say,
)
from actions.customer import customer_from_tracker, turn_claims
from actions.entities import ACCOUNT_LABELS, entity_value
from actions.forms import (
    CustomerTaskForm,
    cleared,
    is_answer,
    latest_text,
    requested_slot,
)
from actions.money import format_money, to_minor
from actions.tasks import CancelTask, turn_key

CURRENCY = "EUR"
CODE_SLOTS = ("gift_card_code", "gift_card_last4")
# "I don't have the code", "can't find it", "not with me": no code at hand just now.
_NO_CODE_AT_HAND = re.compile(
    r"\b(?:(?:do ?n[o']?t|dont) (?:have|know|remember)|"
    r"(?:can'?t|cannot|can not|could ?n[o']?t) (?:find|remember|see|read)|"
    r"(?:lost|forgot(?:ten)?|misplaced) (?:it|the code|my code|the card)|"
    r"no code|not with me|where (?:is|do I find) the code)\b",
    re.IGNORECASE,
)
_STATUS_TEXT = {"active": "active", "blocked": "blocked", "expired": "expired"}


# --- gift-card codes ----------------------------------------------------------------------

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32, as core_banking
_DECODE = {ch: i for i, ch in enumerate(_ALPHABET)}
_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})


def normalise_code(code: str) -> str | None:
    """The 20-character canonical form of a well-formed code (its check character
    right), else None: a typo is caught here before it counts as a failed lookup."""
    compact = re.sub(r"[\s-]", "", code.upper()).translate(_ALIASES)
    if len(compact) != 20 or any(ch not in _DECODE for ch in compact):
        return None
    total, double = 0, False
    for ch in reversed(compact):
        value = _DECODE[ch] * (2 if double else 1)
        total += value // 32 + value % 32
        double = not double
    return compact if total % 32 == 0 else None


class CodeUnavailable(Exception):
    """The code behind a reference cannot be had: `response` says why."""

    def __init__(self, response: str) -> None:
        super().__init__(response)
        self.response = response


def is_payload(text: str) -> bool:
    """A button's payload ("/affirm", "/deny{...}"): never a name or a message."""
    return bool(re.fullmatch(r"/\w+(?:\{.*\})?", text.strip()))


def guest_requester(tracker: Tracker) -> str:
    """What a guest's wrong codes are counted against: the client address the gateway
    saw (sealed, so the guest cannot choose it the way a new session id can be had by
    reconnecting); the session when the address is unknown."""
    claims = turn_claims(tracker)
    if claims is not None and claims.client_ip:
        return f"ip:{claims.client_ip}"
    if claims is not None:
        return f"session:{claims.session_id}"
    return "unidentified"  # no valid credential: every such guest shares one count


async def code_from_slot(tracker: Tracker, value: str) -> str:
    """The code itself for a `gift_card_code` slot value (resolving `ref:` via the
    gateway); raises CodeUnavailable."""
    if not value.startswith("ref:"):
        return value
    claims = turn_claims(tracker)
    if claims is None:  # no valid credential for this turn: nothing may be resolved
        raise CodeUnavailable("utter_gift_card_ref_expired")
    try:
        code = await gateway_client.resolve_gift_card_ref(claims.sealed, value[4:])
    except gateway_client.GatewayUnavailable as exc:
        raise CodeUnavailable("utter_gift_card_lookup_unavailable") from exc
    if code is None:
        raise CodeUnavailable("utter_gift_card_ref_expired")
    return code


def idempotency_key(tracker: Tracker, purpose: str) -> str:
    return turn_key(tracker, f"gift-card-{purpose}")


def _account_type(tracker: Tracker, role: str) -> str | None:
    value = entity_value(tracker, "account_type", role) or entity_value(tracker, "account_type")
    return str(value) if value in ACCOUNT_LABELS else None


def account_answer(tracker: Tracker, slot: str, role: str, ignore: bool = False) -> dict[str, Any]:
    """The account type named in the answer (entity with `role`), else checking as the
    default the first time; nothing when the message is not an answer or is `ignore`d."""
    if not is_answer(tracker):
        return {}
    kind = _account_type(tracker, role)
    if kind and not ignore:
        return {slot: kind}
    if tracker.get_slot(slot) is None:
        return {slot: "checking"}  # the default
    return {}


def known_account(dispatcher: CollectingDispatcher, slot: str, value: Any) -> dict[str, Any]:
    if value in ACCOUNT_LABELS:
        return {slot: value}
    dispatcher.utter_message(response="utter_which_gift_account")
    return {slot: None}


def pick_account(accounts: list[Account], kind: str) -> Account | None:
    return next((a for a in accounts if a.type == kind and a.currency == CURRENCY), None)


def amount_minor(value: Any) -> int | None:
    try:
        minor = to_minor(str(value).replace(",", "."), CURRENCY)
    except ValueError:
        return None
    return minor if minor > 0 else None


# --- the code (balance and redemption) ----------------------------------------------------


class GiftCardCodeValidation(CustomerTaskForm):
    """`gift_card_code`: `ref:<ref>` for a code the gateway masked, else the code."""

    @abstractmethod
    def name(self) -> str: ...

    async def extract_gift_card_code(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        asked = requested_slot(tracker)
        text = latest_text(tracker).strip()
        if asked == "gift_card_code" and _NO_CODE_AT_HAND.search(text):
            # "I don't have the code with me": where to find it, and the form waits (the
            # slot is set empty so that Rasa keeps this message with the form, instead of
            # a support answer about app passcodes).
            dispatcher.utter_message(response="utter_gift_card_code_help")
            return {"gift_card_code": None}
        if not is_answer(tracker):
            return {}
        ref = entity_value(tracker, "gift_card_ref")
        code = entity_value(tracker, "gift_card_code")
        if (ref or code) and (
            asked in (None, "gift_card_code") or not tracker.get_slot("gift_card_code")
        ):
            return {"gift_card_code": f"ref:{ref}" if ref else str(code)}
        if asked == "gift_card_code" and text:
            return {"gift_card_code": text}  # explained by validation
        return {}

    async def validate_gift_card_code(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:  # emptied on purpose by extraction (no code at hand): said there
            return {"gift_card_code": None}
        try:
            code = await code_from_slot(tracker, str(value or ""))
        except CodeUnavailable as unavailable:
            dispatcher.utter_message(response=unavailable.response)
            return {"gift_card_code": None, "gift_card_last4": None}
        normalised = normalise_code(code)
        if normalised is None:
            dispatcher.utter_message(response="utter_gift_card_code_invalid")
            return {"gift_card_code": None, "gift_card_last4": None}
        return {"gift_card_code": value, "gift_card_last4": normalised[-4:]}


def _balance_too_low(problem: Problem, context: Mapping[str, Any]) -> Answer:
    balance = problem.balance_minor
    shown = "less" if balance is None else format_money(balance, CURRENCY)
    return Answer(
        "utter_gift_card_insufficient_balance", {"last4": context["last4"], "balance": shown}
    )


# A card's balance or its redemption (`context`: last4).
CODE_ANSWERS = AnswerTable(
    problems={
        429: say("utter_gift_card_locked_out"),  # too many wrong codes
        "gift-card-not-found": say("utter_gift_card_not_found", "last4"),
        "gift-card-blocked": say("utter_gift_card_blocked", "last4"),
        "gift-card-expired": say("utter_gift_card_expired", "last4"),
        "gift-card-insufficient-balance": _balance_too_low,
        "currency-mismatch": say("utter_gift_card_currency_mismatch"),
        404: say("utter_gift_card_account_not_found", account_label="account"),
    },
    rejected=say("utter_gift_card_not_redeemed"),
)


class ValidateCheckGiftCardBalanceForm(GiftCardCodeValidation):
    def name(self) -> str:
        return "validate_check_gift_card_balance_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        return domain_slots  # guests may check a balance too (no account involved)


class ActionCheckGiftCardBalance(Action):
    """Submit of check_gift_card_balance_form."""

    def name(self) -> str:
        return "action_check_gift_card_balance"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        customer = customer_from_tracker(tracker)
        value = tracker.get_slot("gift_card_code")
        last4 = str(tracker.get_slot("gift_card_last4") or "")
        if not value:
            dispatcher.utter_message(response="utter_check_gift_card_balance_cancelled")
            return cleared(CODE_SLOTS)
        try:
            code = await code_from_slot(tracker, str(value))
            if customer is None:  # a guest: asked on their behalf, counted per address
                card = await core_banking_api.guest_gift_card_balance(
                    code, guest_requester(tracker)
                )
            else:
                card = await core_banking_api.gift_card_balance(customer.access_token, code)
        except CodeUnavailable as unavailable:
            dispatcher.utter_message(response=unavailable.response)
        except core_banking_api.CoreBankingError as error:
            CODE_ANSWERS.tell(dispatcher, error, last4=last4)
        else:
            dispatcher.utter_message(
                response="utter_gift_card_balance",
                last4=card.last4,
                balance=format_money(card.balance_minor, card.currency),
                status=_STATUS_TEXT.get(card.status, card.status),
                expires_on=card.expires_on.isoformat(),
            )
        return cleared(CODE_SLOTS)


class ActionCancelCheckGiftCardBalanceForm(CancelTask, Action):
    action_name, cancelled_response, slots = (
        "action_cancel_check_gift_card_balance_form",
        "utter_check_gift_card_balance_cancelled",
        CODE_SLOTS,
    )
