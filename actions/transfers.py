"""Transfers: a form gathers destination, amount and source, the customer confirms a
summary, then core_banking executes it; a transfer core_banking holds for step-up asks
for the 6-digit code from the customer's authenticator app (TOTP).

Money moves only after an explicit yes. The `Idempotency-Key` is derived from the
conversation turn that said yes, so a retried action (Rasa retries, a gateway replay)
can never pay twice: core_banking answers a repeated key with the original transfer.
"""

import contextlib
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import core_banking_api
from actions.core_banking_api import (
    Account,
    Answer,
    AnswerTable,
    NewTransfer,
    Payee,
    Problem,
    Then,
    Transfer,
    say,
)
from actions.customer import Customer, customer_from_tracker
from actions.entities import ACCOUNT_LABELS, entities, entity_value
from actions.forms import CustomerTaskForm, confirmation_value, says_a_change
from actions.money import format_money, mask_account_number, minor_to_decimal, to_minor
from actions.payees import person_named
from actions.tasks import answers_the_form, turn_key

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
REFERENCE_MAX = 140  # core_banking's limit

# "50", "12,50 EUR": an amount given where the destination was asked (the amount slot
# takes it); not a name to report as unknown.
_BARE_AMOUNT = re.compile(
    r"^\s*(?:[€$£]\s*)?\d[\d.,\s]*(?:€|eur|euros?|usd|dollars?|gbp|pounds?)?\s*$", re.IGNORECASE
)


def idempotency_key(tracker: Tracker) -> str:
    return turn_key(tracker, "transfer")


def _account_slot(account: Account) -> dict[str, Any]:
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


_NOT_A_NAME = frozenset(
    {
        "my",
        "the",
        "a",
        "an",
        "your",
        "our",
        "me",
        "savings",
        "checking",
        "current",
        "account",
        "iban",
        "someone",
        "somebody",
        "them",
        "him",
        "her",
        "us",
        "you",
        "it",
        "this",
        "that",
        "whom",
        "who",
        "anyone",
        "everyone",
        "people",
        "friend",
        "family",
    }
)
# A lower-case word after "to" is a name only where a name ends the request: "transfer
# 90 to anna", "send 20 to bob for dinner"; "want to send money" names nobody.
_LOWER_NAME = re.compile(
    r"\bto\s+([a-z][\w'-]+)\s*(?:$|[.!?,]|\b(?:for|with|please|now|today|tomorrow|from|"
    r"ref|reference|as)\b)"
)


def _names_someone(text: str) -> bool:
    """The text sends to someone by name: capitalised anywhere ("to Anna", "pay Anna
    25"), or lower-case where the name ends the request ("transfer 90 to anna")."""
    found = re.search(r"\b(?:to|pay)\s+([A-Z][\w'-]+)", text) or _LOWER_NAME.search(text)
    return found is not None and found.group(1).lower() not in _NOT_A_NAME


# A name the NLU sees no request in: `inform`, or too unsure to be one.
_ANSWER_INTENTS = frozenset({"inform", "nlu_fallback"})
_ANSWER_BELOW_CONFIDENCE = 0.8


def _plain_answer(tracker: Tracker) -> bool:
    intent = tracker.latest_message.get("intent") or {}
    return (
        intent.get("name") in _ANSWER_INTENTS
        or float(intent.get("confidence") or 0.0) < _ANSWER_BELOW_CONFIDENCE
    )


# Words of a transfer request itself: never the reason to pick a payee.
_REQUEST_WORDS = frozenset(
    {
        "send",
        "transfer",
        "money",
        "payment",
        "payments",
        "account",
        "bank",
        "please",
        "euro",
        "euros",
        "savings",
        "checking",
        "from",
        "with",
        "reference",
    }
)


# A correction at the summary ("i meant …", "… not Alpine", "actually to Anna"), and the
# part of it that names what was wrong ("not alpine", "instead of Tom").
_CORRECTS = re.compile(
    r"\b(?:meant|mean|not|instead|actually|rather|wrong|oops|whoops|sorry|no,?\s+to)\b",
    re.IGNORECASE,
)
_NOT_THIS = re.compile(
    r"\b(?:not|instead of|rather than)\s+(?:to\s+)?[\w'-]+(?:\s+(?!but\b|i\b)[\w'-]+)?",
    re.IGNORECASE,
)


def _payee_named_in(text: str, payees: list[Payee]) -> Payee | None:
    lowered = f" {text.lower()} "
    for payee in payees:  # full names first, then first names
        if f" {payee.name.lower()}" in lowered:
            return payee
    for payee in payees:
        first = payee.name.split()[0].lower()
        if re.search(rf"\b{re.escape(first)}\b", lowered):
            return payee
    # "pay my rent" -> "City Housing (rent)", "my energy bill" -> "Alpine Energy AG": a
    # word of four letters or more from one payee's name, when only one has it.
    by_word = [
        payee
        for payee in payees
        if any(
            re.search(rf"\b{re.escape(word)}\b", lowered)
            for word in re.findall(r"[^\W\d_]{4,}", payee.name.lower())
            if word not in _REQUEST_WORDS
        )
    ]
    return by_word[0] if len(by_word) == 1 else None


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


_REFERENCE_WORD = r"(?:reference\b|ref\b\.?|memo\b|note\b)"
# "... with reference rent november", "ref: INV-2291": the reference after the word.
_REFERENCE = re.compile(
    r"(?:,\s*|\b)(?:with\s+(?:the\s+|a\s+)?|and\s+)?(?:payment\s+)?"
    rf"{_REFERENCE_WORD}\s*(?:is\b|:|=|-)?\s*(?P<ref>.+)$",
    re.IGNORECASE,
)
# "put rent as the reference", "and use INV 7 as ref": the reference before the word.
_REFERENCE_BEFORE = re.compile(
    r"(?:,\s*|\b)(?:and\s+)?(?:put|use|add|write|set|with)\s+(?P<ref>.+?)\s+as\s+"
    rf"(?:the\s+|a\s+|my\s+)?(?:payment\s+)?{_REFERENCE_WORD}",
    re.IGNORECASE,
)


def _reference_match(text: str) -> re.Match[str] | None:
    return _REFERENCE_BEFORE.search(text) or _REFERENCE.search(text)


def reference_in(text: str) -> str | None:
    """The payment reference the customer gave ("... with reference rent november",
    "ref: INV-2291", "put rent as the reference"), tidied and cut to what core_banking
    accepts."""
    found = _reference_match(text)
    if found is None:
        return None
    ref = re.sub(r"\s+", " ", found.group("ref")).strip(" \t\"'\u201c\u201d\u2018\u2019.,;!?")
    return ref[:REFERENCE_MAX] or None


def without_reference(text: str) -> str:
    """The text less its payment reference: the words of a reference ("put rent as the
    reference") never name the recipient (City Housing (rent)) or the amount."""
    found = _reference_match(text)
    return text if found is None else text[: found.start()] + " " + text[found.end() :]


_WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_LATER = re.compile(
    rf"\b(?:tomorrow|next (?:week|month|year|{_WEEKDAY})|on {_WEEKDAY}|in \d+ (?:days?|weeks?)|"
    r"on the \d{1,2}(?:st|nd|rd|th)|every (?:day|week|month)|monthly|weekly|"
    r"standing order|schedule[ds]?|later today|at the end of the month)\b",
    re.IGNORECASE,
)
_WHOLE_BALANCE = re.compile(
    r"^\W*(?:(?:all|everything)(?: of it| that'?s (?:there|in it|available))?|"
    r"(?:the )?(?:whole|full|entire) (?:balance|amount)|all (?:the|my) money)\W*$",
    re.IGNORECASE,
)


def _same_amount(a: Any, b: Any) -> bool:
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
        payee = _payee_named_in(str(person or said), payees)
        last_payee = tracker.get_slot("last_payee")
        if payee is None and last_payee and entity_value(tracker, "pronoun"):
            # "now send her 30": the payee the conversation named last (added, paid).
            payee = _payee_named_in(str(last_payee), payees)
        if payee:
            return {"transfer_destination": _payee_destination(payee)}
        text = tracker.latest_message.get("text") or ""
        if (
            not answers_the_form(tracker)
            or _BARE_AMOUNT.match(text)
            or not (asked or person or _names_someone(text))
        ):
            return {}
        # "send 25 to Anna" with no payee Anna: say so now, not just "who to?"
        names = ", ".join(p.name for p in payees) or "none saved yet"
        dispatcher.utter_message(response="utter_unknown_destination", payee_names=names)
        # A plain answer with an unknown name ("Anna") still answers the question: the
        # slot is set (empty) so that Rasa keeps the form on this message instead of
        # rejecting it to the fallback's "Sorry, I didn't get that". Anything else is
        # left to be rejected, so that the digression rules can answer it.
        return {"transfer_destination": None} if asked and _plain_answer(tracker) else {}

    async def _corrected_payee(self, tracker: Tracker, token: str) -> dict[str, Any]:
        """ "sorry i meant city housing not alpine" at the summary (or while the amount is
        asked): another saved payee named as a correction replaces the recipient, and the
        summary is shown again.
        The payee after "not" / "instead of" is the one being corrected away."""
        text = str(tracker.latest_message.get("text") or "")
        # At the summary, or while the amount is asked ("actually to city housing").
        asked = tracker.get_slot("requested_slot")
        current = tracker.get_slot("transfer_destination") or {}
        if asked == "transfer_amount" and not _CORRECTS.search(text):
            return await self._same_payee_again(tracker, token, current)
        if asked not in ("transfer_confirmed", "transfer_amount") or not _CORRECTS.search(text):
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
        payee = _payee_named_in(_NOT_THIS.sub(" ", without_reference(text)), payees)
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
        payee = _payee_named_in(text, payees)
        if payee is None or payee.id != current.get("payee_id"):
            return {}
        return {"transfer_destination": current}

    async def extract_transfer_amount(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(tracker.latest_message.get("text") or "")
        if _LATER.search(text) and answers_the_form(tracker):
            # "send 25 to savings tomorrow": the chat cannot schedule; say so before the
            # summary, so that nobody confirms a payment they think is for later.
            dispatcher.utter_message(response="utter_transfer_now_only")
        # The reference rides along with whatever message gives it (no question of its own).
        reference = reference_in(text)
        extra = {"transfer_reference": reference} if reference else {}
        return {**self._amount(tracker, text), **extra}

    @staticmethod
    def _amount(tracker: Tracker, text: str) -> dict[str, Any]:
        reference = _reference_match(text)
        # A number inside the reference ("reference invoice 42") is not the amount.
        amounts = [
            e
            for e in entities(tracker, "amount")
            if reference is None or int(e.get("start", 0)) < reference.start()
        ]
        amount = amounts[0].get("value") if amounts else None
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
            and _WHOLE_BALANCE.search(text)
        ):
            # "all of it": the source's whole available balance (validated like any amount)
            amount = minor_to_decimal(int(source["available_minor"]), source["currency"])
        changing = says_a_change(text)
        if amount is None or (tracker.get_slot("transfer_amount") and not (at_summary or changing)):
            return {}
        if at_summary and _same_amount(amount, tracker.get_slot("transfer_amount")):
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
                "transfer_source": _account_slot(source),
                "transfer_confirmed": None,
                "transfer_amount": tracker.get_slot("transfer_amount")
                or tracker.get_slot("transfer_refused_amount"),
            }
        return {"transfer_source": _account_slot(source)}

    @staticmethod
    def _source_changed_at_summary(tracker: Tracker) -> bool:
        """Another account to pay from named at the summary, or when the amount is asked
        again because it was too much for the source."""
        asked = tracker.get_slot("requested_slot")
        return (
            asked == "transfer_confirmed"
            or (asked == "transfer_amount" and tracker.get_slot("transfer_refused_amount"))
        ) and ValidateTransferForm._another_source_named(tracker)

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
    against today's balance when the form validates the slots it finds filled."""

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
        return [
            *_reset(),
            SlotSet("transfer_destination", last["destination"]),
            SlotSet("transfer_amount", last["amount"]),
            SlotSet("transfer_currency", last.get("currency")),
            SlotSet("transfer_reference", last.get("reference")),
            SlotSet("transfer_source", _account_slot(source)),
            FollowupAction("transfer_form"),
        ]
