"""Transfers: a form gathers destination, amount and source (actions.transfer_form), the
customer confirms a summary, then core_banking executes it (here); a transfer
core_banking holds for step-up asks for the 6-digit code from the customer's
authenticator app (TOTP), and "do the same again" repeats the last one.

Money moves only after an explicit yes. The `Idempotency-Key` is derived from the
conversation turn that said yes, so a retried action (Rasa retries, a gateway replay)
can never pay twice: core_banking answers a repeated key with the original transfer.
"""

import contextlib
import re
from collections.abc import Mapping
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import core_banking_api
from actions.core_banking_api import (
    Answer,
    AnswerTable,
    NewTransfer,
    Problem,
    Then,
    Transfer,
    say,
)
from actions.customer import Customer, customer_from_tracker
from actions.entities import entities
from actions.money import format_money, to_minor
from actions.tasks import turn_key
from actions.transfer_form import account_slot, choose_source
from actions.transfer_wording import settled_amount

TRANSFER_SLOTS = (
    "transfer_amount",
    "transfer_currency",
    "transfer_destination",
    "transfer_source",
    "transfer_confirmed",
    "transfer_reference",
    "pending_transfer_id",
    "otp_code",
)
DEFAULT_REFERENCE = "Transfer via chat"


def idempotency_key(tracker: Tracker) -> str:
    return turn_key(tracker, "transfer")


class ActionAskTransferConfirmed(Action):
    def name(self) -> str:
        return "action_ask_transfer_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        source = tracker.get_slot("transfer_source")
        destination = tracker.get_slot("transfer_destination")
        currency = source["currency"]
        amount = format_money(to_minor(tracker.get_slot("transfer_amount"), currency), currency)
        reference = tracker.get_slot("transfer_reference")
        dispatcher.utter_message(
            response="utter_transfer_summary",
            amount=amount,
            source_label=source["label"],
            destination_label=destination["label"],
            reference_text=f' with reference "{reference}"' if reference else "",
        )
        # The payee named in the summary is the "her" of "no, send her 20 instead".
        return (
            [SlotSet("last_payee", destination["label"])] if destination["kind"] == "payee" else []
        )


def _reset() -> list[dict[str, Any]]:
    return [SlotSet(slot, None) for slot in TRANSFER_SLOTS]


def _sent(tracker: Tracker) -> list[dict[str, Any]]:
    """The transfer just sent, remembered for "do the same again" (ActionRepeatTransfer):
    what the customer chose, not the balance it was checked against."""
    source = tracker.get_slot("transfer_source") or {}
    last = {
        "destination": tracker.get_slot("transfer_destination"),
        "amount": tracker.get_slot("transfer_amount"),
        "currency": tracker.get_slot("transfer_currency"),
        "reference": tracker.get_slot("transfer_reference"),
        "source_type": source.get("type"),
    }
    return [*_reset(), SlotSet("last_transfer", last)]


def _daily_limit(problem: Problem, context: Mapping[str, Any]) -> Answer:
    remaining = problem.remaining_minor
    if remaining is not None and remaining > 0:
        money = format_money(remaining, context["currency"])
        return Answer("utter_daily_limit_remaining", {"remaining": money})
    return Answer("utter_daily_limit")


def _wrong_code(problem: Problem, context: Mapping[str, Any]) -> Answer:
    if problem.reason == "code_already_used":
        # The right code, already spent (say on the previous transfer): no try was
        # counted; the app shows a new one within 30 seconds.
        return Answer("utter_otp_already_used", then=Then.ASK_AGAIN)
    if problem.transfer_status == "cancelled" or problem.attempts_remaining == 0:
        # That was the last try: core_banking cancelled the transfer.
        return Answer("utter_transfer_blocked_after_otp")
    remaining = "a few" if problem.attempts_remaining is None else problem.attempts_remaining
    return Answer("utter_wrong_otp", {"attempts_remaining": remaining}, Then.ASK_AGAIN)


def _refused(problem: Problem, context: Mapping[str, Any]) -> Answer:
    reason = str(problem.detail or problem.title or "it was refused")
    return Answer("utter_transfer_rejected", {"reason": reason.rstrip(".")})


# Making a transfer (`context`: source_label, currency) and confirming one held for
# step-up (the last four kinds; a refused new transfer always ends the task).
TRANSFER_ANSWERS = AnswerTable(
    problems={
        "insufficient-funds": say("utter_insufficient_funds", "source_label"),
        "daily-limit-exceeded": _daily_limit,
        "invalid-confirmation-code": _wrong_code,
        "invalid-state": say("utter_transfer_blocked_after_otp"),
        "confirmation-expired": say("utter_transfer_blocked_after_otp"),
        "too-many-attempts": say("utter_transfer_blocked_after_otp"),
    },
    rejected=_refused,
    # The bank not reached: a held transfer still waits for the code, typed again.
    unavailable=say("utter_backend_unavailable", then=Then.KEEP),
)


def _done(dispatcher: CollectingDispatcher, transfer: Transfer, label: str) -> None:
    dispatcher.utter_message(
        response="utter_transfer_done",
        destination_label=label,
        amount=format_money(transfer.amount_minor, transfer.currency),
        transfer_reference=transfer.id[:8].upper(),
    )


class ActionExecuteTransfer(Action):
    def name(self) -> str:
        return "action_execute_transfer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        customer = customer_from_tracker(tracker)
        if customer is None:
            dispatcher.utter_message(response="utter_login_required")
            return _reset()
        if tracker.get_slot("transfer_confirmed") is not True:
            dispatcher.utter_message(response="utter_transfer_cancelled")
            return _reset()
        source = tracker.get_slot("transfer_source")
        destination = tracker.get_slot("transfer_destination")
        to_payee = destination["kind"] == "payee"
        transfer = NewTransfer(
            from_account_id=source["id"],
            payee_id=destination["payee_id"] if to_payee else None,
            to_account_number=None if to_payee else destination["account_number"],
            amount_minor=to_minor(tracker.get_slot("transfer_amount"), source["currency"]),
            currency=source["currency"],
            reference=tracker.get_slot("transfer_reference") or DEFAULT_REFERENCE,
        )
        return await self._send(
            dispatcher,
            tracker,
            customer,
            transfer,
            source["label"],
            destination["label"],
        )

    async def _send(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        customer: Customer,
        order: NewTransfer,
        source_label: str,
        destination_label: str,
    ) -> list[dict[str, Any]]:
        key = idempotency_key(tracker)
        try:
            transfer = await core_banking_api.create_transfer(customer.access_token, order, key)
        except core_banking_api.CoreBankingError as error:
            currency = order.currency
            TRANSFER_ANSWERS.tell(dispatcher, error, source_label=source_label, currency=currency)
            return _reset()  # nothing was held: the transfer starts again from scratch
        if transfer.held_for_step_up:
            # otp_form asks for the code the customer's authenticator app shows now.
            return [
                SlotSet("pending_transfer_id", transfer.id),
                SlotSet("otp_code", None),
                FollowupAction("otp_form"),
            ]
        _done(dispatcher, transfer, destination_label)
        return _sent(tracker)


class ValidateOtpForm(FormValidationAction):
    def name(self) -> str:
        return "validate_otp_form"

    async def extract_otp_code(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "otp_code":
            return {}
        match = re.search(r"\b(\d{6})\b", tracker.latest_message.get("text") or "")
        if match:
            return {"otp_code": match.group(1)}
        if tracker.latest_message.get("intent", {}).get("name") in ("inform", "affirm", "deny"):
            dispatcher.utter_message(response="utter_otp_not_a_code")
        return {}


class ActionConfirmTransfer(Action):
    def name(self) -> str:
        return "action_confirm_transfer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        customer = customer_from_tracker(tracker)
        transfer_id, code = tracker.get_slot("pending_transfer_id"), tracker.get_slot("otp_code")
        if customer is None or not transfer_id or not code:
            return _reset()
        label = (tracker.get_slot("transfer_destination") or {}).get("label", "the payee")
        try:
            transfer = await core_banking_api.confirm_transfer(
                customer.access_token, transfer_id, code
            )
        except core_banking_api.CoreBankingError as error:
            source = tracker.get_slot("transfer_source") or {}
            answer = TRANSFER_ANSWERS.tell(
                dispatcher,
                error,
                source_label=source.get("label", "account"),
                currency=str(source.get("currency") or "EUR"),
            )
            if answer.then is Then.ASK_AGAIN:
                return [SlotSet("otp_code", None), FollowupAction("otp_form")]
            if answer.then is Then.KEEP:
                return [SlotSet("otp_code", None)]
            return _reset()
        if transfer.status == "completed":
            _done(dispatcher, transfer, label)
            return _sent(tracker)
        dispatcher.utter_message(response="utter_transfer_blocked_after_otp")
        return _reset()


class ActionCancelTransferTask(Action):
    """Cancel whatever transfer step is under way; a held transfer is cancelled at the
    bank too, so it can never be confirmed later."""

    def name(self) -> str:
        return "action_cancel_transfer_task"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        customer = customer_from_tracker(tracker)
        transfer_id = tracker.get_slot("pending_transfer_id")
        if customer is not None and transfer_id:
            # An unconfirmed transfer expires on its own and never moves money.
            with contextlib.suppress(core_banking_api.CoreBankingError):
                await core_banking_api.cancel_transfer(customer.access_token, transfer_id)
        dispatcher.utter_message(response="utter_transfer_cancelled")
        return _reset()


class ActionRepeatTransfer(Action):
    """ "do the same again" after a transfer: the last transfer sent, as a new one with a
    fresh summary and its own yes (the task policy runs this for the registry's `repeat`
    of transfer_form). The account it comes from is read again, so the amount is checked
    against today's balance when the form validates the slots it finds filled. An amount
    in the message ("and another 10") replaces the last one."""

    def name(self) -> str:
        return "action_repeat_transfer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        customer = customer_from_tracker(tracker)
        if customer is None:
            dispatcher.utter_message(response="utter_login_required")
            return []
        last = tracker.get_slot("last_transfer")
        if not isinstance(last, dict) or not last.get("destination") or not last.get("amount"):
            dispatcher.utter_message(response="utter_nothing_to_repeat")
            return []
        try:
            accounts = await core_banking_api.list_accounts(customer.access_token)
        except core_banking_api.CoreBankingError as error:
            core_banking_api.say_failure(dispatcher, error)
            return []
        source = choose_source(accounts, last["destination"], last.get("source_type"))
        if source is None:
            dispatcher.utter_message(response="utter_nothing_to_repeat")
            return []
        # "and another 10": the same transfer with the amount this message gives.
        text = str(tracker.latest_message.get("text") or "")
        settled = settled_amount(entities(tracker, "amount"), text)
        amount = settled.get("value") if settled else last["amount"]
        return [
            *_reset(),
            SlotSet("transfer_destination", last["destination"]),
            SlotSet("transfer_amount", str(amount)),
            SlotSet("transfer_currency", last.get("currency")),
            SlotSet("transfer_reference", last.get("reference")),
            SlotSet("transfer_source", account_slot(source)),
            FollowupAction("transfer_form"),
        ]
