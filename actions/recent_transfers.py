"""`action_recent_transfers`: "what's the status of my last transfer?" -- the customer's
latest transfers (core_banking's `GET /v1/transfers`, newest first), each with whom it
went to and where it stands.

Callers may rely on: at most `SHOWN` transfers, newest first, one line each; a transfer
held for step-up says it waits for the authenticator code (and nothing has moved); a
guest is asked to log in; with none yet, `utter_no_transfers_yet`."""

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import core_banking_api
from actions.core_banking_api import SentTransfer
from actions.customer import customer_from_tracker
from actions.entities import ACCOUNT_LABELS
from actions.money import format_money, mask_account_number

SHOWN = 3
# core_banking's statuses (TransferRead.status), each said its own way; another status
# (one added later) is said as core_banking names it.
STATUS_RESPONSES = {
    "completed": "utter_recent_transfer_sent",
    "requires_confirmation": "utter_recent_transfer_waiting_for_code",
    "cancelled": "utter_recent_transfer_cancelled",
}


def recipient(transfer: SentTransfer, own_types: dict[str, str]) -> str:
    """Whom it went to: one of the customer's accounts by its type (`own_types`: IBAN ->
    checking, savings), else the name and the IBAN's last four characters."""
    number = mask_account_number(transfer.to_account.number)
    if transfer.kind == "own":
        kind = own_types.get(transfer.to_account.number)
        if kind is None:
            return f"your account {number}"
        return f"your {ACCOUNT_LABELS.get(kind, f'{kind} account')}"
    name = transfer.to_account.name
    return f"{name} ({number})" if name else f"IBAN {number}"


class ActionRecentTransfers(Action):
    def name(self) -> str:
        return "action_recent_transfers"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        customer = customer_from_tracker(tracker)
        if customer is None:
            dispatcher.utter_message(response="utter_login_required")
            return []
        try:
            transfers = await core_banking_api.list_transfers(customer.access_token, SHOWN)
            accounts = await core_banking_api.list_accounts(customer.access_token)
        except core_banking_api.CoreBankingError as error:
            core_banking_api.say_failure(dispatcher, error)
            return []
        if not transfers:
            dispatcher.utter_message(response="utter_no_transfers_yet")
            return []
        own_types = {account.number: account.type for account in accounts}
        dispatcher.utter_message(response="utter_recent_transfers_intro")
        for transfer in transfers:
            dispatcher.utter_message(
                response=STATUS_RESPONSES.get(transfer.status, "utter_recent_transfer_other"),
                created_on=transfer.created_at.date().isoformat(),
                amount=format_money(transfer.amount_minor, transfer.currency),
                recipient=recipient(transfer, own_types),
                status=transfer.status.replace("_", " "),
            )
        return []
