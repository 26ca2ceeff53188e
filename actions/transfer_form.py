"""The transfer form: gathers destination, amount and source, validating each against
the customer's accounts and payees at core_banking, and takes corrections at the summary
("no wait, make it 50", "from savings instead"). The confirmed transfer is executed by
actions.transfers."""

from decimal import Decimal
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import core_banking_api
from actions.core_banking_api import Account, Payee
from actions.customer import customer_from_tracker
from actions.entities import ACCOUNT_LABELS, entities, entity_value
from actions.forms import (
    CustomerTaskForm,
    asks_for_another_task,
    confirmation_value,
    is_digression,
    says_a_change,
)
from actions.money import format_money, mask_account_number, minor_to_decimal, to_minor
from actions.payee_wording import person_named
from actions.tasks import answers_the_form
from actions.transfer_amount import last_payment_to
from actions.transfer_wording import (
    BARE_AMOUNT,
    CORRECTS,
    LATER,
    NOT_THIS,
    USUAL_AMOUNT,
    WHOLE_BALANCE,
    WHOLE_BALANCE_IN_REQUEST,
    names_someone,
    payee_named_in,
    plain_answer,
    reference_in,
    reference_match,
    settled_amount,
    without_reference,
)


def account_slot(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "type": account.type,
        "number": account.number,
        "currency": account.currency,
        "available_minor": account.available_minor,
        "label": ACCOUNT_LABELS.get(account.type, account.type),
    }


def _own_destination(number: str, account_type: str) -> dict[str, Any]:
    """One of the customer's own accounts as the transfer's destination slot."""
    label = f"your {ACCOUNT_LABELS.get(account_type, account_type)}"
    return {"kind": "own", "account_number": number, "account_type": account_type, "label": label}


def _payee_destination(payee: Payee) -> dict[str, Any]:
    return {
        "kind": "payee",
        "payee_id": payee.id,
        "account_number": payee.iban,
        "label": payee.name,
    }


def choose_source(
    accounts: list[Account], destination: dict[str, Any] | None, wanted_type: str | None
) -> Account | None:
    """The account the money comes from: the one named, else for an own-account transfer
    the other account, else the checking account."""
    if wanted_type:
        return next((a for a in accounts if a.type == wanted_type), None)
    if destination and destination.get("kind") == "own":
        return next((a for a in accounts if a.number != destination["account_number"]), None)
    return next((a for a in accounts if a.type == "checking"), accounts[0] if accounts else None)


def _asks_something_else(tracker: Tracker) -> bool:
    """A confident request of another task ("hmm actually how much do i have in checking
    first?", check_balance) or a digression, while the summary or the amount is asked:
    the task policy answers it and the form asks again; it never changes the transfer,
    whatever accounts or payees it names."""
    return asks_for_another_task(tracker, "transfer_form") or is_digression(tracker)


def same_amount(a: Any, b: Any) -> bool:
    try:
        return Decimal(str(a)) == Decimal(str(b))
    except ArithmeticError:
        return False


class ValidateTransferForm(CustomerTaskForm):
    def name(self) -> str:
        return "validate_transfer_form"

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        # rasa_sdk drops extracted slots that are not required slots; the reference is
        # never asked for, so it is carried over here.
        extracted = tracker.slots_to_validate()
        carried = [
            SlotSet(slot, extracted[slot])
            for slot in ("transfer_reference", "transfer_amount_options")
            if slot in extracted and (extracted[slot] or slot != "transfer_reference")
        ]
        events = await super().get_validation_events(dispatcher, tracker, domain)
        return events + carried

    async def extract_transfer_destination(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        customer = customer_from_tracker(tracker)
        if customer is None:
            return {}
        if tracker.get_slot("transfer_destination"):
            return await self._corrected_payee(tracker, customer.access_token)
        iban = entity_value(tracker, "iban")
        if iban:
            # "to my friend Lisa Müller, her IBAN is …": the summary names her too (the
            # NLU's person; core_banking's transfer has no field for it, the chat shows it).
            person = person_named(tracker)[1]
            label = f"IBAN {mask_account_number(iban)}"
            return {
                "transfer_destination": {
                    "kind": "iban",
                    "account_number": iban,
                    "label": f"{person} ({label})" if person else label,
                }
            }
        asked = tracker.get_slot("requested_slot") == "transfer_destination"
        if entity_value(tracker, "invalid_iban") and answers_the_form(tracker):
            dispatcher.utter_message(response="utter_invalid_iban")
            return {"transfer_destination": None} if asked else {}
        own_type = entity_value(tracker, "account_type", "to") or (
            entity_value(tracker, "account_type") if asked else None
        )
        try:
            if own_type:
                accounts = await core_banking_api.list_accounts(customer.access_token)
                own = next((a for a in accounts if a.type == own_type), None)
                if own:
                    return {"transfer_destination": _own_destination(own.number, own_type)}
            payees = await core_banking_api.list_payees(customer.access_token)
        except core_banking_api.CoreBankingError:
            return {}
        # "my sister Anna": the NLU's person, not the relation, names the payee.
        person = entity_value(tracker, "person")
        said = without_reference(str(tracker.latest_message.get("text") or ""))
        payee = payee_named_in(str(person or said), payees)
        last_payee = tracker.get_slot("last_payee")
        if payee is None and last_payee and entity_value(tracker, "pronoun"):
            # "now send her 30": the payee the conversation named last (added, paid).
            payee = payee_named_in(str(last_payee), payees)
        if payee:
            return {"transfer_destination": _payee_destination(payee)}
        text = tracker.latest_message.get("text") or ""
        if (
            not answers_the_form(tracker)
            or BARE_AMOUNT.match(text)
            or not (asked or person or names_someone(text))
        ):
            return {}
        # "send 25 to Anna" with no payee Anna: say so now, not just "who to?"
        names = ", ".join(p.name for p in payees) or "none saved yet"
        dispatcher.utter_message(response="utter_unknown_destination", payee_names=names)
        # A plain answer with an unknown name ("Anna") still answers the question: the
        # slot is set (empty) so that Rasa keeps the form on this message instead of
        # rejecting it to the fallback's "Sorry, I didn't get that". Anything else is
        # left to be rejected, so that the digression rules can answer it.
        return {"transfer_destination": None} if asked and plain_answer(tracker) else {}

    async def _corrected_payee(self, tracker: Tracker, token: str) -> dict[str, Any]:
        """ "sorry i meant city housing not alpine" at the summary (or while the amount is
        asked): another saved payee named as a correction replaces the recipient, and the
        summary is shown again.
        The payee after "not" / "instead of" is the one being corrected away."""
        text = str(tracker.latest_message.get("text") or "")
        # At the summary, or while the amount is asked ("actually to city housing").
        asked = tracker.get_slot("requested_slot")
        current = tracker.get_slot("transfer_destination") or {}
        if _asks_something_else(tracker):
            return {}
        if asked == "transfer_amount" and not CORRECTS.search(text):
            return await self._same_payee_again(tracker, token, current)
        if asked not in ("transfer_confirmed", "transfer_amount") or not CORRECTS.search(text):
            return {}
        own_type = entity_value(tracker, "account_type", "to")
        try:
            if own_type:  # "oops no, to my savings account"
                accounts = await core_banking_api.list_accounts(token)
                own = next((a for a in accounts if a.type == own_type), None)
                if own is None or own.number == current.get("account_number"):
                    return {}
                destination = _own_destination(own.number, own_type)
                return {"transfer_destination": destination, "transfer_confirmed": None}
            payees = await core_banking_api.list_payees(token)
        except core_banking_api.CoreBankingError:
            return {}
        payee = payee_named_in(NOT_THIS.sub(" ", without_reference(text)), payees)
        if payee is None or payee.id == current.get("payee_id"):
            return {}
        return {"transfer_destination": _payee_destination(payee), "transfer_confirmed": None}

    @staticmethod
    async def _same_payee_again(
        tracker: Tracker, token: str, current: dict[str, Any]
    ) -> dict[str, Any]:
        """ "city housing" while the amount is asked, for the payee already chosen: it
        answers who, which stands; the form asks the amount again (naming them) instead
        of "Sorry, I didn't get that"."""
        if entities(tracker, "amount") or current.get("kind") != "payee":
            return {}
        try:
            payees = await core_banking_api.list_payees(token)
        except core_banking_api.CoreBankingError:
            return {}
        text = without_reference(str(tracker.latest_message.get("text") or ""))
        payee = payee_named_in(text, payees)
        if payee is None or payee.id != current.get("payee_id"):
            return {}
        return {"transfer_destination": current}

    async def extract_transfer_amount(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(tracker.latest_message.get("text") or "")
        if LATER.search(text) and answers_the_form(tracker):
            # "send 25 to savings tomorrow": the chat cannot schedule; say so before the
            # summary, so that nobody confirms a payment they think is for later.
            dispatcher.utter_message(response="utter_transfer_now_only")
        # The reference rides along with whatever message gives it (no question of its own).
        reference = reference_in(text)
        extra = {"transfer_reference": reference} if reference else {}
        amount = self._amount(tracker, text)
        if not amount and USUAL_AMOUNT.search(text) and answers_the_form(tracker):
            amount = await self._usual_amount(dispatcher, tracker)
        return {**amount, **extra}

    @staticmethod
    async def _usual_amount(dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
        """ "pay alpine energy the usual amount": the amount of the latest payment to the
        saved payee, said before the summary (which the customer still confirms). Only
        while no amount is set, and only for a payee: there is no "usual" to one's own
        account or a new IBAN."""
        customer = customer_from_tracker(tracker)
        destination = tracker.get_slot("transfer_destination") or {}
        if customer is None or tracker.get_slot("transfer_amount") or not destination:
            return {}  # without a recipient yet, the form asks who first
        if destination.get("kind") != "payee":
            dispatcher.utter_message(response="utter_usual_amount_needs_payee")
            return {}
        name = str(destination.get("label") or "")
        try:
            last = await last_payment_to(customer.access_token, name)
        except core_banking_api.CoreBankingError:
            last = None  # the amount question follows: the customer can still type it
        if last is None:
            dispatcher.utter_message(response="utter_no_usual_amount", payee=name)
            return {}
        paid = -last.amount_minor
        dispatcher.utter_message(
            response="utter_usual_amount",
            amount=format_money(paid, last.currency),
            payee=name,
            date=last.booked_on,
        )
        return {
            "transfer_amount": str(minor_to_decimal(paid, last.currency)),
            "transfer_currency": last.currency,
        }

    @staticmethod
    def _amount(tracker: Tracker, text: str) -> dict[str, Any]:
        reference = reference_match(text)
        # A number inside the reference ("reference invoice 42") is not the amount.
        amounts = [
            e
            for e in entities(tracker, "amount")
            if reference is None or int(e.get("start", 0)) < reference.start()
        ]
        settled = settled_amount(amounts, text)
        amount = settled.get("value") if settled else None
        at_summary = tracker.get_slot("requested_slot") == "transfer_confirmed"
        source = tracker.get_slot("transfer_source")
        ambiguous = [
            e
            for e in entities(tracker, "amount_ambiguous")
            if reference is None or int(e.get("start", 0)) < reference.start()
        ]
        if amount is None and ambiguous and isinstance(ambiguous[0].get("value"), dict):
            # "1.100": 1,100.00 or 1.10? Asked (action_ask_transfer_amount), never guessed.
            asking: dict[str, Any] = {"transfer_amount_options": ambiguous[0]["value"]}
            if at_summary:
                asking.update(transfer_amount=None, transfer_confirmed=None)
            return asking
        refused = tracker.get_slot("transfer_refused_amount")
        if amount is None and refused and ValidateTransferForm._another_source_named(tracker):
            # "ok take it from savings then" after too much for checking: the same amount,
            # checked again against the account now named.
            amount = refused
        if (
            amount is None
            and source
            and tracker.get_slot("requested_slot") == "transfer_amount"
            and WHOLE_BALANCE.search(text)
        ):
            # "all of it": the source's whole available balance (validated like any amount)
            amount = minor_to_decimal(int(source["available_minor"]), source["currency"])
        changing = says_a_change(text)
        if amount is None or (tracker.get_slot("transfer_amount") and not (at_summary or changing)):
            return {}
        if at_summary and same_amount(amount, tracker.get_slot("transfer_amount")):
            return {}  # "yes, 50" confirms the amount it repeats
        new = {
            "transfer_amount": str(amount),
            "transfer_currency": entity_value(tracker, "currency"),
        }
        if tracker.get_slot("transfer_amount_options"):
            new["transfer_amount_options"] = None  # the question it answered is settled
        if at_summary:
            # "make it 60" / "no, 60 euros": a new amount at the summary corrects it; the
            # yes/no it may also carry answered the old summary, so ask again.
            new["transfer_confirmed"] = None
        return new

    async def extract_transfer_source(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        customer = customer_from_tracker(tracker)
        destination = tracker.get_slot("transfer_destination")
        if customer is None or not destination:
            return {}
        # "from my savings" at the summary replaces the source and asks again.
        changing = self._source_changed_at_summary(tracker)
        if tracker.get_slot("transfer_source") and not changing:
            return {}
        try:
            accounts = await core_banking_api.list_accounts(customer.access_token)
        except core_banking_api.CoreBankingError:
            return {}
        to_type = entity_value(tracker, "account_type", "to")
        moved: dict[str, Any] = {}
        if changing and to_type:
            # "no wait, from savings to checking": both ends change together (the
            # destination read alone would be the old one, the source's own account).
            own = next((a for a in accounts if a.type == to_type), None)
            if own is not None and own.number != destination.get("account_number"):
                destination = _own_destination(own.number, to_type)
                moved = {"transfer_destination": destination}
        source = choose_source(accounts, destination, self._source_named(tracker))
        if source is None:
            return {}
        if destination.get("account_number") == source.number:
            dispatcher.utter_message(response="utter_same_account")
            # At the summary it is asked again unchanged; before it, the destination is.
            return {"transfer_confirmed": None} if changing else {"transfer_destination": None}
        if changing:  # the amount is validated again against the new account's balance
            return {
                **moved,
                "transfer_source": account_slot(source),
                "transfer_confirmed": None,
                "transfer_amount": tracker.get_slot("transfer_amount")
                or tracker.get_slot("transfer_refused_amount"),
            }
        if self._whole_balance_requested(tracker):
            # "move everything from savings to checking": the source's whole available
            # balance, validated like any amount and shown in the summary before the yes.
            whole = minor_to_decimal(source.available_minor, source.currency)
            return {"transfer_source": account_slot(source), "transfer_amount": str(whole)}
        return {"transfer_source": account_slot(source)}

    @staticmethod
    def _whole_balance_requested(tracker: Tracker) -> bool:
        """The request asks for the whole balance and gives no amount."""
        text = str(tracker.latest_message.get("text") or "")
        return (
            tracker.get_slot("transfer_amount") is None
            and not entities(tracker, "amount")
            and not entities(tracker, "amount_ambiguous")
            and answers_the_form(tracker)
            and WHOLE_BALANCE_IN_REQUEST.search(text) is not None
        )

    @staticmethod
    def _source_changed_at_summary(tracker: Tracker) -> bool:
        """Another account to pay from named at the summary, or when the amount is asked
        again because it was too much for the source."""
        asked = tracker.get_slot("requested_slot")
        return (
            (
                asked == "transfer_confirmed"
                or (asked == "transfer_amount" and tracker.get_slot("transfer_refused_amount"))
            )
            and not _asks_something_else(tracker)
            and ValidateTransferForm._another_source_named(tracker)
        )

    @staticmethod
    def _another_source_named(tracker: Tracker) -> bool:
        wanted = ValidateTransferForm._source_named(tracker)
        current = tracker.get_slot("transfer_source") or {}
        return wanted is not None and wanted != current.get("type")

    @staticmethod
    def _source_named(tracker: Tracker) -> str | None:
        """The account type the message names to pay from: after "from", or, once the
        summary or a refused amount stands, an account said alone ("ok use savings
        instead") that is not where the money goes."""
        wanted = entity_value(tracker, "account_type", "from")
        if wanted is not None:
            return str(wanted)
        asked = tracker.get_slot("requested_slot")
        if asked != "transfer_confirmed" and not (
            asked == "transfer_amount" and tracker.get_slot("transfer_refused_amount")
        ):
            return None
        alone = [e.get("value") for e in entities(tracker, "account_type") if not e.get("role")]
        destination = tracker.get_slot("transfer_destination") or {}
        if len(alone) != 1 or alone[0] == destination.get("account_type"):
            return None
        return str(alone[0])

    async def validate_transfer_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return confirmation_value("transfer_confirmed", value, tracker)

    async def validate_transfer_amount(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:  # cleared to be asked again ("1.100" at the summary)
            return {"transfer_amount": None}
        source = tracker.get_slot("transfer_source")
        currency = (source or {}).get("currency", "EUR")
        said_currency = tracker.get_slot("transfer_currency")
        if said_currency and said_currency != currency:
            dispatcher.utter_message(
                response="utter_currency_not_supported",
                source_label=(source or {}).get("label", "account"),
                account_currency=currency,
            )
            return {"transfer_amount": None, "transfer_currency": None}
        try:
            minor = to_minor(str(value), currency)
        except ValueError:
            minor = 0
        if minor <= 0:
            dispatcher.utter_message(response="utter_invalid_amount")
            return {"transfer_amount": None}
        if source and minor > int(source["available_minor"]):
            dispatcher.utter_message(
                response="utter_amount_over_available",
                source_label=source["label"],
                available=format_money(int(source["available_minor"]), currency),
            )
            return {"transfer_amount": None, "transfer_refused_amount": str(value)}
        accepted = {"transfer_amount": str(value), "transfer_currency": currency}
        if tracker.get_slot("transfer_refused_amount"):
            accepted["transfer_refused_amount"] = None
        return accepted
