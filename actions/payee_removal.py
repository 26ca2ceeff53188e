"""Removing a payee: `remove_payee_form` matches a saved payee named in the text (or
picked from buttons `/remove_payee{"payee_name": "…"}`), asks for a yes and deletes it."""

import json
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import core_banking_api
from actions.core_banking_api import AnswerTable, Payee, say
from actions.customer import customer_from_tracker, for_customer
from actions.entities import entity_value
from actions.forms import (
    CustomerTaskForm,
    cleared,
    confirmation_value,
    is_answer,
    latest_text,
    reprompt_confirmation,
    requested_slot,
)
from actions.money import mask_account_number
from actions.tasks import CancelTask

REMOVE_PAYEE_SLOTS = ("payee_name", "payee_id", "payee_iban", "remove_payee_confirmed")
NO_PAYEES = "-"  # payee_name when the customer has no payee to remove
# What a refused removal is told (`context`: payee_name).
REMOVE_PAYEE_ANSWERS = AnswerTable(
    problems={404: say("utter_payee_already_removed", "payee_name")},  # removed already
    rejected=say("utter_payee_not_removed"),
)


def payee_label(payee: Payee, payees: list[Payee]) -> str:
    """The name, plus the IBAN's last four when another payee has the same name."""
    same = [p for p in payees if p.name.lower() == payee.name.lower()]
    return payee.name if len(same) < 2 else f"{payee.name} ({mask_account_number(payee.iban)})"


def match_payee(text: str, payees: list[Payee], iban: str | None = None) -> list[Payee]:
    """Payees the text names: by IBAN, by full name or label, else by a distinctive word."""
    if iban:
        by_iban = [p for p in payees if p.iban == iban]
        if by_iban:
            return by_iban
    lowered = f" {text.lower().strip()} "
    exact = [p for p in payees if payee_label(p, payees).lower() == text.lower().strip()]
    if exact:
        return exact
    full = [p for p in payees if re.search(rf"(?<!\w){re.escape(p.name.lower())}(?!\w)", lowered)]
    if full:
        return full
    words = set(re.findall(r"[^\W\d_]{3,}", lowered)) - {
        "the",
        "payee",
        "and",
        "from",
        "remove",
        "delete",
        "my",
        "payees",
        "recipient",
    }
    return [p for p in payees if words & set(re.findall(r"[^\W\d_]{3,}", p.name.lower()))]


_NAMED_AFTER_PAYEE = re.compile(
    r"\b(?:payee|recipient|beneficiary|contact)\s+(?:called\s+|named\s+)?"
    r"(?P<name>[^\W\d_][\w.'&-]*(?:\s+[^\W\d_][\w.'&-]*)?)",
    re.IGNORECASE,
)
_CAPITALISED_AFTER_VERB = re.compile(
    r"\b(?:remove|delete|erase)\s+(?P<name>[A-Z][\w.'&-]*(?:\s+[A-Z][\w.'&-]*)*)"
)
_NOT_NAMES = frozenset(
    {
        "please",
        "now",
        "from",
        "for",
        "list",
        "that",
        "the",
        "a",
        "an",
        "my",
        "i",
        "one",
        "payee",
        "payees",
        "someone",
        "somebody",
    }
)


def named_in_removal(text: str) -> str | None:
    """The name in "remove payee Zorro" / "delete Anna from my contacts", if any."""
    for pattern in (_NAMED_AFTER_PAYEE, _CAPITALISED_AFTER_VERB):
        found = pattern.search(text)
        if found:
            name = re.split(r"\s+(?:from|in|on|off|please)\b", found.group("name"))[0]
            if name.split()[0].lower() not in _NOT_NAMES:
                return name
    return None


def payee_buttons(payees: list[Payee]) -> list[dict[str, str]]:
    return [
        {
            "title": payee_label(p, payees),
            "payload": "/remove_payee"
            + json.dumps({"payee_name": payee_label(p, payees)}, ensure_ascii=False),
        }
        for p in payees
    ]


class ValidateRemovePayeeForm(CustomerTaskForm):
    def name(self) -> str:
        return "validate_remove_payee_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if tracker.get_slot("payee_name") == NO_PAYEES:
            return []  # action_remove_payee explains
        return await super().required_slots(domain_slots, dispatcher, tracker, domain)

    async def extract_payee_name(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        customer = customer_from_tracker(tracker)
        if customer is None or not is_answer(tracker) or entity_value(tracker, "payee_name"):
            return {}  # a button's payload fills the slot from its entity
        asked = requested_slot(tracker)
        if asked not in (None, "payee_name") or (asked is None and tracker.get_slot("payee_name")):
            return {}
        try:
            payees = await core_banking_api.list_payees(customer.access_token)
        except core_banking_api.CoreBankingError:
            return {}  # the question (with its buttons) explains the outage
        if not payees:
            return {"payee_name": NO_PAYEES}
        text = latest_text(tracker)
        found = match_payee(text, payees, entity_value(tracker, "iban"))
        if len(found) == 1:
            return {"payee_name": payee_label(found[0], payees)}
        if asked == "payee_name":
            return {"payee_name": text.strip()}  # validation explains, the question lists them
        named = named_in_removal(text) if asked is None and not found else None
        if named:
            return {"payee_name": named}  # "remove payee Zorro": validation says there is none
        return {}  # several or none named: the question lists them

    async def validate_payee_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        customer = customer_from_tracker(tracker)
        if value == NO_PAYEES or customer is None:
            return {"payee_name": value}
        try:
            payees = await core_banking_api.list_payees(customer.access_token)
        except core_banking_api.CoreBankingError as error:
            core_banking_api.say_failure(dispatcher, error)
            return {"payee_name": None}
        if not payees:
            return {"payee_name": NO_PAYEES}
        found = match_payee(str(value), payees)
        if len(found) == 1:
            payee = found[0]
            return {"payee_name": payee.name, "payee_id": payee.id, "payee_iban": payee.iban}
        if not found:
            dispatcher.utter_message(response="utter_payee_not_found", payee_name=str(value))
        return {"payee_name": None, "payee_id": None, "payee_iban": None}

    async def extract_remove_payee_confirmed(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return reprompt_confirmation(tracker, "remove_payee_confirmed")

    async def validate_remove_payee_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return confirmation_value("remove_payee_confirmed", value, tracker)


class ActionAskRemovePayeeName(Action):
    """Asks which payee to remove, one button per saved payee."""

    def name(self) -> str:
        return "action_ask_remove_payee_form_payee_name"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        found = await for_customer(dispatcher, tracker, core_banking_api.list_payees)
        if found is None:
            return []
        _, payees = found
        dispatcher.utter_message(
            response="utter_ask_remove_payee_name", buttons=payee_buttons(payees)
        )
        return []


class ActionAskRemovePayeeConfirmed(Action):
    def name(self) -> str:
        return "action_ask_remove_payee_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(
            response="utter_confirm_remove_payee",
            payee_name=tracker.get_slot("payee_name"),
            iban_masked=mask_account_number(str(tracker.get_slot("payee_iban") or "")),
        )
        return []


class ActionRemovePayee(Action):
    """Submit of remove_payee_form: deletes the payee after a yes."""

    def name(self) -> str:
        return "action_remove_payee"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        customer = customer_from_tracker(tracker)
        payee_id, name = tracker.get_slot("payee_id"), tracker.get_slot("payee_name")
        if customer is None:
            dispatcher.utter_message(response="utter_login_required")
        elif name == NO_PAYEES:
            dispatcher.utter_message(response="utter_no_payees")
        elif tracker.get_slot("remove_payee_confirmed") is not True or not payee_id:
            dispatcher.utter_message(response="utter_remove_payee_cancelled")
        else:
            try:
                await core_banking_api.delete_payee(customer.access_token, str(payee_id))
                dispatcher.utter_message(response="utter_payee_removed", payee_name=name)
            except core_banking_api.CoreBankingError as error:
                REMOVE_PAYEE_ANSWERS.tell(dispatcher, error, payee_name=name)
        return cleared(REMOVE_PAYEE_SLOTS)


class ActionCancelRemovePayeeForm(CancelTask, Action):
    action_name, cancelled_response, slots = (
        "action_cancel_remove_payee_form",
        "utter_remove_payee_cancelled",
        REMOVE_PAYEE_SLOTS,
    )
