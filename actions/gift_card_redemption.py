"""Redeeming a gift card onto one of the customer's accounts: the code (as for a
balance check, actions/gift_cards.py), the amount or all of it, the account, a summary
and the redemption after a yes."""

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import core_banking_api
from actions.customer import customer_from_tracker
from actions.entities import ACCOUNT_LABELS, entity_value
from actions.forms import (
    cleared,
    confirmation_value,
    is_answer,
    latest_text,
    reprompt_confirmation,
    requested_slot,
)
from actions.gift_cards import (
    CODE_ANSWERS,
    CODE_SLOTS,
    CURRENCY,
    CodeUnavailable,
    GiftCardCodeValidation,
    account_answer,
    amount_minor,
    code_from_slot,
    idempotency_key,
    known_account,
    pick_account,
)
from actions.money import format_money
from actions.tasks import CancelTask

ALL = "all"  # redeem_amount for the whole balance
_ALL_RE = re.compile(r"\b(?:all|everything|whole|full|entire|the rest|remaining)\b", re.IGNORECASE)
REDEEM_SLOTS = (*CODE_SLOTS, "redeem_amount", "redeem_target_account", "redeem_gift_card_confirmed")


class ValidateRedeemGiftCardForm(GiftCardCodeValidation):
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
        minor = amount_minor(value)
        if minor is None:
            dispatcher.utter_message(response="utter_invalid_redeem_amount")
            return {"redeem_amount": None}
        return {"redeem_amount": f"{minor // 100}.{minor % 100:02d}"}

    async def extract_redeem_target_account(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return account_answer(tracker, "redeem_target_account", "to")

    async def validate_redeem_target_account(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return known_account(dispatcher, "redeem_target_account", value)

    async def extract_redeem_gift_card_confirmed(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return reprompt_confirmation(tracker, "redeem_gift_card_confirmed")

    async def validate_redeem_gift_card_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return confirmation_value("redeem_gift_card_confirmed", value, tracker)


def _redeem_amount_text(value: Any) -> str:
    minor = None if value in (None, ALL) else amount_minor(value)
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
            account = pick_account(
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
                None if amount in (None, ALL) else amount_minor(amount),
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
