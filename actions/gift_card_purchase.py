"""Buying a gift card: the form (amount, recipient, message, account), the summary,
and the purchase after a yes, with an Idempotency-Key derived from that yes."""

import re
from decimal import Decimal
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import core_banking_api
from actions.core_banking_api import (
    AnswerTable,
    GiftCardPurchase,
    say,
)
from actions.credentials import seal_secret
from actions.customer import customer_from_tracker
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
from actions.gift_cards import (
    CURRENCY,
    account_answer,
    amount_minor,
    idempotency_key,
    is_payload,
    known_account,
    pick_account,
)
from actions.money import format_money
from actions.payee_wording import person_named
from actions.tasks import CancelTask

NO_MESSAGE = "none"  # gift_message when the customer wants no message
BUY_SLOTS = (
    "gift_amount",
    "gift_recipient_name",
    "gift_message",
    "gift_source_account",
    "buy_gift_card_confirmed",
)
_NO_MESSAGE_RE = re.compile(
    r"^\s*(?:no|none|nothing|nope|skip(?: it)?|no message|no note|no thanks|"
    r"without (?:a )?(?:message|note)|leave it (?:empty|blank)|no,? thanks?)\s*[.!]*\s*$",
    re.IGNORECASE,
)
_NO_MESSAGE_IN_REQUEST = re.compile(
    r"\b(?:with\s+no|without\s+(?:a\s+|any\s+)?|no)\s+(?:personal\s+)?(?:message|note)\b",
    re.IGNORECASE,
)
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


# Buying a card (`context`: account_label, the account it is paid from).
BUY_ANSWERS = AnswerTable(
    problems={
        "insufficient-funds": say("utter_gift_card_insufficient_funds", "account_label"),
        "currency-mismatch": say("utter_gift_card_eur_only"),
        404: say("utter_gift_card_account_not_found", "account_label"),
    },
    rejected=say("utter_gift_card_not_bought"),
)


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
        minor = amount_minor(value)
        if minor is None:
            dispatcher.utter_message(response="utter_invalid_gift_amount")
            return {"gift_amount": None}
        customer = customer_from_tracker(tracker)
        kind = str(tracker.get_slot("gift_source_account") or "checking")
        if customer is not None:
            try:
                account = pick_account(
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
            or is_payload(name)
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
        if message != NO_MESSAGE and (is_yes_or_no(message) or is_payload(message)):
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
        return account_answer(tracker, "gift_source_account", "from", ignore=free_text)

    async def validate_gift_source_account(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return known_account(dispatcher, "gift_source_account", value)

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
            amount=format_money(amount_minor(tracker.get_slot("gift_amount")) or 0, CURRENCY),
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
        minor = amount_minor(tracker.get_slot("gift_amount"))
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
            account = pick_account(
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
