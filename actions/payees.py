"""Payees: list them, add one (form + confirmation), remove one (pick + confirmation).

`add_payee_form` asks for the IBAN (the NLU's `iban` entity is already mod-97 checked;
anything else typed as an answer is explained and asked again) and the payee's name (the
answer's text, a name typed after the IBAN, or one given in the request itself, as in
"add John Smith with IBAN …"), shows a summary and adds the payee only after a yes.
Removing one: actions/payee_removal.py; reading IBANs and names from the text:
actions/payee_wording.py.

Guests get `utter_login_required` from the submit action: the validators give a guest no
required slots, so the form ends before asking anything.
"""

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
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
    is_yes_or_no,
    latest_text,
    reprompt_confirmation,
    requested_slot,
)
from actions.money import mask_account_number
from actions.payee_wording import (
    corrected_name,
    iban_is_valid,
    name_from_answer,
    name_from_request,
    name_instead_of_iban,
    person_named,
    tidy_name,
)
from actions.tasks import CancelTask

ADD_PAYEE_SLOTS = ("payee_iban", "payee_name", "add_payee_confirmed")


class ActionListPayees(Action):
    def name(self) -> str:
        return "action_list_payees"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        found = await for_customer(dispatcher, tracker, core_banking_api.list_payees)
        if found is None:
            return []
        _, payees = found
        if not payees:
            dispatcher.utter_message(response="utter_no_payees")
            return []
        dispatcher.utter_message(response="utter_payees_intro", count=len(payees))
        for payee in payees:
            dispatcher.utter_message(
                response="utter_payee_line",
                payee_name=payee.name,
                iban_masked=mask_account_number(payee.iban),
            )
        return []


# --- adding -------------------------------------------------------------------------------


class ValidateAddPayeeForm(CustomerTaskForm):
    def name(self) -> str:
        return "validate_add_payee_form"

    async def extract_payee_iban(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not is_answer(tracker):
            return {}
        asked = requested_slot(tracker)
        # An IBAN that fails its check is taken too: validation says what is wrong.
        iban = entity_value(tracker, "iban") or entity_value(tracker, "invalid_iban")
        if iban and (asked in (None, "payee_iban") or not tracker.get_slot("payee_iban")):
            return {"payee_iban": str(iban)}
        if iban and asked == "add_payee_confirmed" and iban != tracker.get_slot("payee_iban"):
            # Another IBAN at the summary ("sorry, the IBAN is …") replaces the one given.
            return {"payee_iban": str(iban), "add_payee_confirmed": None}
        text = latest_text(tracker).strip()
        if asked == "payee_iban" and text:
            if not tracker.get_slot("payee_name") and name_instead_of_iban(text):
                return {}  # extract_payee_name keeps it; the IBAN is asked again
            return {"payee_iban": text}  # explained by validation
        return {}

    async def validate_payee_iban(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        iban = re.sub(r"\s+", "", str(value or "")).upper()
        if not iban_is_valid(iban):
            dispatcher.utter_message(response="utter_invalid_iban")
            return {"payee_iban": None}
        saved = await _payee_with_iban(tracker, iban)
        if saved is not None:
            # Already a payee: said now, not after a summary the bank would refuse; the
            # form ends here (`requested_slot` None) and its submit adds nothing.
            dispatcher.utter_message(
                response="utter_payee_iban_already_saved",
                payee_name=saved.name,
                iban_masked=mask_account_number(iban),
            )
            return {
                "payee_iban": None,
                "payee_name": None,
                "add_payee_confirmed": None,
                "requested_slot": None,
            }
        return {"payee_iban": iban}

    async def extract_payee_name(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not is_answer(tracker) or entity_value(tracker, "payee_name"):
            return {}
        asked = requested_slot(tracker)
        if asked == "payee_name":
            name = name_from_answer(tracker)
            if name is None and person_named(tracker)[0]:  # "my brother": whose name?
                dispatcher.utter_message(
                    response="utter_payee_name_not_a_relation",
                    relation=entity_value(tracker, "relation"),
                )
                return {"payee_name": None}
            return {"payee_name": name or latest_text(tracker).strip()}
        if asked == "add_payee_confirmed":
            # "sorry, the name is Maria García López" at the summary: the new name, and
            # the summary again.
            name = corrected_name(tracker, tracker.get_slot("payee_name"))
            return {"payee_name": name, "add_payee_confirmed": None} if name else {}
        if tracker.get_slot("payee_name") or asked not in (None, "payee_iban"):
            return {}
        if asked == "payee_iban" and name_instead_of_iban(latest_text(tracker)):
            return {"payee_name": latest_text(tracker).strip()}  # "John Smith", then the IBAN
        name = name_from_request(tracker)
        return {"payee_name": name} if name else {}

    async def validate_payee_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:  # cleared by extract_payee_name, which said why
            return {"payee_name": None}
        name = tidy_name(str(value or ""))
        if name is None or iban_is_valid(name) or is_yes_or_no(name):
            dispatcher.utter_message(response="utter_invalid_payee_name")
            return {"payee_name": None}
        return {"payee_name": name}

    async def extract_add_payee_confirmed(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return reprompt_confirmation(tracker, "add_payee_confirmed")

    async def validate_add_payee_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return confirmation_value("add_payee_confirmed", value, tracker)


async def _payee_with_iban(tracker: Tracker, iban: str) -> Payee | None:
    """The customer's saved payee with this IBAN, if any (None too when the bank cannot
    be asked now: adding it then says what the bank answers)."""
    customer = customer_from_tracker(tracker)
    if customer is None:
        return None
    try:
        payees = await core_banking_api.list_payees(customer.access_token)
    except core_banking_api.CoreBankingError:
        return None
    return next((p for p in payees if p.iban == iban), None)


class ActionAskAddPayeeConfirmed(Action):
    def name(self) -> str:
        return "action_ask_add_payee_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        iban = str(tracker.get_slot("payee_iban") or "")
        dispatcher.utter_message(
            response="utter_confirm_add_payee",
            payee_name=tracker.get_slot("payee_name"),
            payee_iban=" ".join(re.findall(".{1,4}", iban)),
        )
        return []


# What a refused addition is told (`context`: iban_masked).
ADD_PAYEE_ANSWERS = AnswerTable(
    problems={
        "duplicate-payee": say("utter_payee_already_exists", "iban_masked"),
        "invalid-iban": say("utter_invalid_iban"),
    },
    rejected=say("utter_payee_not_saved"),
)


class ActionAddPayee(Action):
    """Submit of add_payee_form: adds the payee after a yes."""

    def name(self) -> str:
        return "action_add_payee"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        customer = customer_from_tracker(tracker)
        name, iban = tracker.get_slot("payee_name"), tracker.get_slot("payee_iban")
        if customer is None:
            dispatcher.utter_message(response="utter_login_required")
        elif not iban:
            pass  # the form was ended by its validator, which said why (already a payee)
        elif tracker.get_slot("add_payee_confirmed") is not True or not name or not iban:
            dispatcher.utter_message(response="utter_add_payee_cancelled")
        else:
            try:
                payee = await core_banking_api.create_payee(customer.access_token, name, iban)
                dispatcher.utter_message(
                    response="utter_payee_added",
                    payee_name=payee.name,
                    iban_masked=mask_account_number(payee.iban),
                )
                # "now send her 30": the payee just added is the one meant next.
                return [*cleared(ADD_PAYEE_SLOTS), SlotSet("last_payee", payee.name)]
            except core_banking_api.CoreBankingError as error:
                ADD_PAYEE_ANSWERS.tell(dispatcher, error, iban_masked=mask_account_number(iban))
        return cleared(ADD_PAYEE_SLOTS)


class ActionCancelAddPayeeForm(CancelTask, Action):
    action_name, cancelled_response, slots = (
        "action_cancel_add_payee_form",
        "utter_add_payee_cancelled",
        ADD_PAYEE_SLOTS,
    )
