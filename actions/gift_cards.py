"""Gift cards: buy one (form, summary, yes), check a card's balance, redeem a card.

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
from decimal import Decimal
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import core_banking_api, gateway_client
from actions.core_banking_api import (
    Account,
    Answer,
    AnswerTable,
    GiftCardPurchase,
    Problem,
    say,
)
from actions.credentials import seal_secret
from actions.customer import customer_from_tracker, turn_claims
from actions.entities import ACCOUNT_LABELS, entity_value
from actions.forms import (
    CustomerTaskForm,
    cleared,
    confirmation_value,
    intent_of,
    is_answer,
    is_yes_or_no,
    latest_text,
    reprompt_confirmation,
    requested_slot,
    says_a_change,
)
from actions.money import format_money, to_minor
from actions.payee_wording import person_named
from actions.tasks import CancelTask, turn_key

CURRENCY = "EUR"
NO_MESSAGE = "none"  # gift_message when the customer wants no message
ALL = "all"  # redeem_amount for the whole balance
BUY_SLOTS = (
    "gift_amount",
    "gift_recipient_name",
    "gift_message",
    "gift_source_account",
    "buy_gift_card_confirmed",
)
CODE_SLOTS = ("gift_card_code", "gift_card_last4")
REDEEM_SLOTS = (*CODE_SLOTS, "redeem_amount", "redeem_target_account", "redeem_gift_card_confirmed")
_STATUS_TEXT = {"active": "active", "blocked": "blocked", "expired": "expired"}
_NO_MESSAGE_RE = re.compile(
    r"^\s*(?:no|none|nothing|nope|skip(?: it)?|no message|no note|no thanks|"
    r"without (?:a )?(?:message|note)|leave it (?:empty|blank)|no,? thanks?)\s*[.!]*\s*$",
    re.IGNORECASE,
)
# "I don't have the code", "can't find it", "not with me": no code at hand just now.
_NO_CODE_AT_HAND = re.compile(
    r"\b(?:(?:do ?n[o']?t|dont) (?:have|know|remember)|"
    r"(?:can'?t|cannot|can not|could ?n[o']?t) (?:find|remember|see|read)|"
    r"(?:lost|forgot(?:ten)?|misplaced) (?:it|the code|my code|the card)|"
    r"no code|not with me|where (?:is|do I find) the code)\b",
    re.IGNORECASE,
)
_NO_MESSAGE_IN_REQUEST = re.compile(
    r"\b(?:with\s+no|without\s+(?:a\s+|any\s+)?|no)\s+(?:personal\s+)?(?:message|note)\b",
    re.IGNORECASE,
)
_ALL_RE = re.compile(r"\b(?:all|everything|whole|full|entire|the rest|remaining)\b", re.IGNORECASE)
# "... with the message Happy birthday", "..., message: Happy birthday", "... and a
# note saying Congrats", "... saying Well done".
_MESSAGE_IN_REQUEST = re.compile(
    r"(?:\b(?:with|and)\s+(?:the\s+|a\s+)?|,\s*(?:the\s+|a\s+)?)(?:personal\s+)?"
    r"(?:message|note)(?:\s+(?:saying|that says|reading))?\s*:?\s+(?P<m>.+)$"
    r"|\b(?:saying|that says)\s+(?P<said>.+)$",
    re.IGNORECASE,
)
_RECIPIENT_IN_REQUEST = re.compile(
    r"\b(?:to|for)\s+(?P<name>my\s+[^\W\d_]+|(?:[A-ZÀ-Ý][^\W\d_]+)(?:\s+(?:and\s+)?[A-ZÀ-Ý][^\W\d_]+)*)"
    r"(?!'s)"
)
# "my sister Maria", "our friend, John Smith": the card shows the name, not the relation.
_RELATION_THEN_NAME = re.compile(
    r"^(?:my|our)\s+(?:[^\W\d_]+\s+){0,2}?[^\W\d_]+,?\s+"
    r"(?P<name>[A-ZÀ-Ý][^\W\d_'-]*(?:[\s'-]+[A-ZÀ-Ý][^\W\d_'-]*){0,2})"
)


def recipient_name(text: str) -> str:
    """The name to print on the card from an answer such as "for my sister Maria"."""
    name = re.sub(
        r"^(?:it'?s\s+|it is\s+)?(?:for|to)\s+", "", text.strip(), flags=re.IGNORECASE
    ).strip(" .!")
    relation = _RELATION_THEN_NAME.match(name)
    return relation.group("name") if relation else name


_NOT_RECIPIENTS = {
    "christmas",
    "father",
    "mother",
    "easter",
    "my account",
    "my savings",
    "my checking",
    "my birthday",
    "birthday",
}


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


def _is_payload(text: str) -> bool:
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


def _account_answer(tracker: Tracker, slot: str, role: str, ignore: bool = False) -> dict[str, Any]:
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


def _known_account(dispatcher: CollectingDispatcher, slot: str, value: Any) -> dict[str, Any]:
    if value in ACCOUNT_LABELS:
        return {slot: value}
    dispatcher.utter_message(response="utter_which_gift_account")
    return {slot: None}


def _pick_account(accounts: list[Account], kind: str) -> Account | None:
    return next((a for a in accounts if a.type == kind and a.currency == CURRENCY), None)


# Buying a card (`context`: account_label, the account it is paid from).
BUY_ANSWERS = AnswerTable(
    problems={
        "insufficient-funds": say("utter_gift_card_insufficient_funds", "account_label"),
        "currency-mismatch": say("utter_gift_card_eur_only"),
        404: say("utter_gift_card_account_not_found", "account_label"),
    },
    rejected=say("utter_gift_card_not_bought"),
)


def _amount_minor(value: Any) -> int | None:
    try:
        minor = to_minor(str(value).replace(",", "."), CURRENCY)
    except ValueError:
        return None
    return minor if minor > 0 else None


# --- buying -------------------------------------------------------------------------------

# "it's for Mila not Mia", "sorry, for Mila": another recipient named at the summary.
_CORRECTED_RECIPIENT = re.compile(
    r"\b(?:it'?s |its |it is |no,? |sorry,? |actually,? |oops,? )(?:for|to) "
    r"(?P<name>[A-Z][\w'-]+(?: [A-Z][\w'-]+)?)",
)


def _same_amount(new: Any, old: Any) -> bool:
    try:
        return Decimal(str(new)) == Decimal(str(old))
    except (ArithmeticError, ValueError):
        return False


class ValidateBuyGiftCardForm(CustomerTaskForm):
    def name(self) -> str:
        return "validate_buy_gift_card_form"

    async def extract_gift_amount(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        asked = requested_slot(tracker)
        amount = entity_value(tracker, "amount")
        if (
            asked == "buy_gift_card_confirmed"
            and amount is not None
            and says_a_change(latest_text(tracker))
            and not _same_amount(amount, tracker.get_slot("gift_amount"))
        ):
            # "actually make it 40" at the summary: the new amount, and the summary again.
            return {"gift_amount": str(amount), "buy_gift_card_confirmed": None}
        if not is_answer(tracker) or asked not in (None, "gift_amount"):
            return {}
        if amount is not None:
            return {"gift_amount": str(amount)}
        if asked == "gift_amount" and latest_text(tracker).strip():
            return {"gift_amount": latest_text(tracker).strip()}  # explained by validation
        return {}

    async def validate_gift_amount(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        currency = entity_value(tracker, "currency")
        if currency and currency != CURRENCY:
            dispatcher.utter_message(response="utter_gift_card_eur_only")
            return {"gift_amount": None}
        minor = _amount_minor(value)
        if minor is None:
            dispatcher.utter_message(response="utter_invalid_gift_amount")
            return {"gift_amount": None}
        customer = customer_from_tracker(tracker)
        kind = str(tracker.get_slot("gift_source_account") or "checking")
        if customer is not None:
            try:
                account = _pick_account(
                    await core_banking_api.list_accounts(customer.access_token), kind
                )
            except core_banking_api.CoreBankingError as error:
                core_banking_api.say_failure(dispatcher, error)
                return {"gift_amount": None}
            if account is not None and minor > account.available_minor:
                dispatcher.utter_message(
                    response="utter_gift_amount_over_balance",
                    account_label=ACCOUNT_LABELS.get(kind, kind),
                    available=format_money(account.available_minor, CURRENCY),
                )
                return {"gift_amount": None}
        return {"gift_amount": f"{minor // 100}.{minor % 100:02d}"}

    async def extract_gift_recipient_name(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        asked = requested_slot(tracker)
        if not is_answer(tracker):
            return {}
        text = latest_text(tracker).strip()
        if asked == "gift_recipient_name":
            if _bare_relation(tracker):  # "my mom" again: asked for her name once more
                return {}
            return {"gift_recipient_name": recipient_name(text)}
        corrected = _CORRECTED_RECIPIENT.search(text)
        if asked == "buy_gift_card_confirmed" and corrected:
            # "it's for Mila not Mia" at the summary: the new name, and the summary again.
            return {"gift_recipient_name": corrected.group("name"), "buy_gift_card_confirmed": None}
        if asked is not None or tracker.get_slot("gift_recipient_name"):
            return {}
        request = _MESSAGE_IN_REQUEST.split(text, maxsplit=1)[0]
        found = _RECIPIENT_IN_REQUEST.search(request)
        if found and found.group("name").lower() not in _NOT_RECIPIENTS:
            # "for my sister Maria": the name after the relation, when there is one
            named = _RELATION_THEN_NAME.match(request[found.start("name") :].strip(" .!"))
            if named:
                return {"gift_recipient_name": named.group("name")}
            if not _bare_relation(tracker) and not found.group("name").lower().startswith("my "):
                return {"gift_recipient_name": found.group("name")}
            # "for my mom": no name to print yet; action_ask_gift_recipient_name asks it.
        return {}

    async def validate_gift_recipient_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        name = re.sub(r"\s+", " ", str(value or "")).strip()
        if (
            not name
            or len(name) > 100
            or not re.search(r"[^\W\d_]", name)
            or is_yes_or_no(name)
            or _is_payload(name)
        ):
            dispatcher.utter_message(response="utter_invalid_gift_recipient")
            return {"gift_recipient_name": None}
        return {"gift_recipient_name": name}

    async def extract_gift_message(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        asked = requested_slot(tracker)
        if not is_answer(tracker):
            return {}
        text = latest_text(tracker).strip()
        if asked == "gift_message":
            if intent_of(tracker) == "deny" or _NO_MESSAGE_RE.match(text):
                return {"gift_message": NO_MESSAGE}
            return {"gift_message": text}
        if asked is None and not tracker.get_slot("gift_message"):
            if _NO_MESSAGE_IN_REQUEST.search(text):  # "... for Lena with no message"
                return {"gift_message": NO_MESSAGE}
            found = _MESSAGE_IN_REQUEST.search(text)
            if found:
                return {"gift_message": (found.group("m") or found.group("said")).strip()}
        return {}

    async def validate_gift_message(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        message = str(value or "").strip()
        if not message:
            return {"gift_message": NO_MESSAGE}
        if message != NO_MESSAGE and (is_yes_or_no(message) or _is_payload(message)):
            # "yes" to "Would you like to add a personal message?" is not the message,
            # and neither is a button's payload ("/affirm")
            dispatcher.utter_message(response="utter_type_gift_message")
            return {"gift_message": None}
        if len(message) > 500:
            dispatcher.utter_message(response="utter_gift_message_too_long")
            return {"gift_message": None}
        return {"gift_message": message}

    async def extract_gift_source_account(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # A free-text answer to the recipient or message question is not an account.
        asked = requested_slot(tracker)
        free_text = asked in ("gift_recipient_name", "gift_message")
        named = entity_value(tracker, "account_type", "from")
        if asked == "buy_gift_card_confirmed" and named in ACCOUNT_LABELS:
            # "pay it from my savings please" at the summary (the NLU hears a transfer):
            # the account to pay from changes, and the summary is shown again.
            if named == tracker.get_slot("gift_source_account"):
                return {}
            return {"gift_source_account": named, "buy_gift_card_confirmed": None}
        return _account_answer(tracker, "gift_source_account", "from", ignore=free_text)

    async def validate_gift_source_account(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return _known_account(dispatcher, "gift_source_account", value)

    async def extract_buy_gift_card_confirmed(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return reprompt_confirmation(tracker, "buy_gift_card_confirmed")

    async def validate_buy_gift_card_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return confirmation_value("buy_gift_card_confirmed", value, tracker)


def _message_text(value: Any) -> str:
    return "no message" if not value or value == NO_MESSAGE else f"the message “{value}”"


def _bare_relation(tracker: Tracker) -> str | None:
    """The relation the NLU found in the latest message said without a name ("for my
    mom"), else None: a relation is never the name printed on a card."""
    relation_said, name = person_named(tracker)
    return str(entity_value(tracker, "relation")) if relation_said and name is None else None


class ActionAskGiftRecipientName(Action):
    """Asks whom the card is for; after "for my mom" it asks for her name instead."""

    def name(self) -> str:
        return "action_ask_gift_recipient_name"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        relation = _bare_relation(tracker)
        if relation:
            dispatcher.utter_message(
                response="utter_ask_gift_recipient_relation_name", relation=relation
            )
        else:
            dispatcher.utter_message(response="utter_ask_gift_recipient_name")
        return []


class ActionAskBuyGiftCardConfirmed(Action):
    def name(self) -> str:
        return "action_ask_buy_gift_card_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        kind = str(tracker.get_slot("gift_source_account") or "checking")
        dispatcher.utter_message(
            response="utter_confirm_buy_gift_card",
            amount=format_money(_amount_minor(tracker.get_slot("gift_amount")) or 0, CURRENCY),
            recipient=tracker.get_slot("gift_recipient_name"),
            message_text=_message_text(tracker.get_slot("gift_message")),
            account_label=ACCOUNT_LABELS.get(kind, kind),
        )
        return []


class ActionBuyGiftCard(Action):
    """Submit of buy_gift_card_form: buys the card after a yes; the reply is the receipt
    with the code, shown this once."""

    def name(self) -> str:
        return "action_buy_gift_card"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        customer = customer_from_tracker(tracker)
        minor = _amount_minor(tracker.get_slot("gift_amount"))
        kind = str(tracker.get_slot("gift_source_account") or "checking")
        label = ACCOUNT_LABELS.get(kind, kind)
        if customer is None:
            dispatcher.utter_message(response="utter_login_required")
            return cleared(BUY_SLOTS)
        if tracker.get_slot("buy_gift_card_confirmed") is not True or minor is None:
            dispatcher.utter_message(response="utter_buy_gift_card_cancelled")
            return cleared(BUY_SLOTS)
        message = tracker.get_slot("gift_message")
        try:
            account = _pick_account(
                await core_banking_api.list_accounts(customer.access_token), kind
            )
            if account is None:
                dispatcher.utter_message(
                    response="utter_gift_card_account_not_found", account_label=label
                )
                return cleared(BUY_SLOTS)
            purchase = GiftCardPurchase(
                from_account_id=account.id,
                amount_minor=minor,
                currency=CURRENCY,
                recipient_name=tracker.get_slot("gift_recipient_name"),
                message=None if message in (None, NO_MESSAGE) else message,
            )
            card = await core_banking_api.buy_gift_card(
                customer.access_token, purchase, idempotency_key(tracker, "buy")
            )
        except core_banking_api.CoreBankingError as error:
            BUY_ANSWERS.tell(dispatcher, error, account_label=label)
        else:
            amount = format_money(card.initial_minor, card.currency)
            if card.code:
                dispatcher.utter_message(
                    # Sealed: the tracker keeps ciphertext, the gateway shows the code
                    # in the live reply only (actions/credentials.py).
                    response="utter_gift_card_bought",
                    code=seal_secret(card.code),
                    amount=amount,
                    recipient=card.recipient_name or "the recipient",
                    last4=card.last4,
                    account_label=label,
                )
            else:  # a replay of a purchase already made: its code was shown then
                dispatcher.utter_message(
                    response="utter_gift_card_already_bought", amount=amount, last4=card.last4
                )
        return cleared(BUY_SLOTS)


class ActionCancelBuyGiftCardForm(CancelTask, Action):
    action_name, cancelled_response, slots = (
        "action_cancel_buy_gift_card_form",
        "utter_buy_gift_card_cancelled",
        BUY_SLOTS,
    )


# --- the code (balance and redemption) ----------------------------------------------------


class _GiftCardCodeValidation(CustomerTaskForm):
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


class ValidateCheckGiftCardBalanceForm(_GiftCardCodeValidation):
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


# --- redeeming ----------------------------------------------------------------------------


class ValidateRedeemGiftCardForm(_GiftCardCodeValidation):
    def name(self) -> str:
        return "validate_redeem_gift_card_form"

    async def extract_redeem_amount(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        asked = requested_slot(tracker)
        if not is_answer(tracker) or asked not in (None, "redeem_amount"):
            return {}
        amount = entity_value(tracker, "amount")
        text = latest_text(tracker)
        if amount is not None:
            return {"redeem_amount": str(amount)}
        if _ALL_RE.search(text):
            return {"redeem_amount": ALL}
        if asked == "redeem_amount" and text.strip():
            return {"redeem_amount": text.strip()}  # explained by validation
        return {}

    async def validate_redeem_amount(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if str(value).lower() == ALL:
            return {"redeem_amount": ALL}
        currency = entity_value(tracker, "currency")
        if currency and currency != CURRENCY:
            dispatcher.utter_message(response="utter_gift_card_eur_only")
            return {"redeem_amount": None}
        minor = _amount_minor(value)
        if minor is None:
            dispatcher.utter_message(response="utter_invalid_redeem_amount")
            return {"redeem_amount": None}
        return {"redeem_amount": f"{minor // 100}.{minor % 100:02d}"}

    async def extract_redeem_target_account(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return _account_answer(tracker, "redeem_target_account", "to")

    async def validate_redeem_target_account(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return _known_account(dispatcher, "redeem_target_account", value)

    async def extract_redeem_gift_card_confirmed(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return reprompt_confirmation(tracker, "redeem_gift_card_confirmed")

    async def validate_redeem_gift_card_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return confirmation_value("redeem_gift_card_confirmed", value, tracker)


def _redeem_amount_text(value: Any) -> str:
    minor = None if value in (None, ALL) else _amount_minor(value)
    return "the full balance" if minor is None else format_money(minor, CURRENCY)


class ActionAskRedeemGiftCardConfirmed(Action):
    def name(self) -> str:
        return "action_ask_redeem_gift_card_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        kind = str(tracker.get_slot("redeem_target_account") or "checking")
        dispatcher.utter_message(
            response="utter_confirm_redeem_gift_card",
            amount=_redeem_amount_text(tracker.get_slot("redeem_amount")),
            last4=tracker.get_slot("gift_card_last4"),
            account_label=ACCOUNT_LABELS.get(kind, kind),
        )
        return []


class ActionRedeemGiftCard(Action):
    """Submit of redeem_gift_card_form: moves the card's money after a yes."""

    def name(self) -> str:
        return "action_redeem_gift_card"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        customer = customer_from_tracker(tracker)
        value = tracker.get_slot("gift_card_code")
        last4 = str(tracker.get_slot("gift_card_last4") or "")
        kind = str(tracker.get_slot("redeem_target_account") or "checking")
        label = ACCOUNT_LABELS.get(kind, kind)
        amount = tracker.get_slot("redeem_amount")
        if customer is None:
            dispatcher.utter_message(response="utter_login_required")
            return cleared(REDEEM_SLOTS)
        if tracker.get_slot("redeem_gift_card_confirmed") is not True or not value:
            dispatcher.utter_message(response="utter_redeem_gift_card_cancelled")
            return cleared(REDEEM_SLOTS)
        try:
            account = _pick_account(
                await core_banking_api.list_accounts(customer.access_token), kind
            )
            if account is None:
                dispatcher.utter_message(
                    response="utter_gift_card_account_not_found", account_label=label
                )
                return cleared(REDEEM_SLOTS)
            code = await code_from_slot(tracker, str(value))
            result = await core_banking_api.redeem_gift_card(
                customer.access_token,
                code,
                account.id,
                None if amount in (None, ALL) else _amount_minor(amount),
                idempotency_key(tracker, "redeem"),
            )
        except CodeUnavailable as unavailable:
            dispatcher.utter_message(response=unavailable.response)
        except core_banking_api.CoreBankingError as error:
            CODE_ANSWERS.tell(dispatcher, error, last4=last4)
        else:
            card = result.gift_card
            dispatcher.utter_message(
                response="utter_gift_card_redeemed",
                last4=card.last4,
                account_label=label,
                amount=format_money(result.redeemed_minor, result.currency),
                balance=format_money(card.balance_minor, card.currency),
            )
        return cleared(REDEEM_SLOTS)


class ActionCancelRedeemGiftCardForm(CancelTask, Action):
    action_name, cancelled_response, slots = (
        "action_cancel_redeem_gift_card_form",
        "utter_redeem_gift_card_cancelled",
        REDEEM_SLOTS,
    )
