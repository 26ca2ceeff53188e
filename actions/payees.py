"""Payees: list them, add one (form + confirmation), remove one (pick + confirmation).

`add_payee_form` asks for the IBAN (the NLU's `iban` entity is already mod-97 checked;
anything else typed as an answer is explained and asked again) and the payee's name (the
answer's text, a name typed after the IBAN, or one given in the request itself, as in
"add John Smith with IBAN …"), shows a summary and adds the payee only after a yes.
`remove_payee_form` matches a saved payee named in the text (or picked from buttons
`/remove_payee{"payee_name": "…"}`), asks for a yes and deletes it.

Guests get `utter_login_required` from the submit action: the validators give a guest no
required slots, so the form ends before asking anything.

The small helpers at the top (`is_answer`, `requested_slot`, `reprompt_confirmation`)
are shared with actions/gift_cards.py.
"""

import json
import re
import unicodedata
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import core_banking_api
from actions.core_banking_api import AnswerTable, Payee, say
from actions.customer import customer_from_tracker, for_customer
from actions.entities import entities, entity_value
from actions.forms import (
    CustomerTaskForm,
    confirmation_value,
    is_plain_yes_to_summary,
    says_a_change,
)
from actions.money import mask_account_number
from actions.task_registry import task_forms
from actions.tasks import CancelTask

# Intents that are not an answer to the form's question: the form lets them through
# (the task policy answers them: cancel, a balance question, help, a handoff) instead of
# taking their text as a name or a message.
INTERRUPTIONS = frozenset({"cancel", "check_balance", "help", "human_handoff"})

ADD_PAYEE_SLOTS = ("payee_iban", "payee_name", "add_payee_confirmed")
REMOVE_PAYEE_SLOTS = ("payee_name", "payee_id", "payee_iban", "remove_payee_confirmed")
NO_PAYEES = "-"  # payee_name when the customer has no payee to remove


# --- helpers shared by the form validators ----------------------------------------------


def intent_of(tracker: Tracker) -> str | None:
    intent = (tracker.latest_message or {}).get("intent") or {}
    name = intent.get("name") if isinstance(intent, dict) else None
    return name if isinstance(name, str) else None


SWITCH_CONFIDENCE = 0.8  # below it a free-text answer ("Tom") is still an answer
# Intents a form's answer comes as: names, IBANs, codes, amounts, yes/no (the classifier
# gives "Maria" or "John Smith" `inform`). Any other intent said confidently, as a
# question, is a digression (a support question: "how long does a transfer take?" while
# a gift card code is asked) that the task policy (bot/tasks.yml) answers before the
# form asks again.
ANSWER_INTENTS = frozenset({"inform", "affirm", "deny", "nlu_fallback", "out_of_scope"})
# "thanks", "bye", "hello" are no name or code either when the classifier is this sure
# ("Ciao Bella" is goodbye at 0.83; a name): thanks or "hold on" is answered and the
# form goes on, goodbye ends the task (bot/tasks.yml), a greeting hears the
# question again.
CONVERSATION_INTENTS = frozenset({"greet", "goodbye", "thank", "wait", "unsure"})
CONVERSATION_CONFIDENCE = 0.9
# Slots whose answer is any text (a gift card's personal message): only a question mark
# makes a confident support topic a digression there.
FREE_TEXT_SLOTS = frozenset({"gift_message"})
# Entities that make a message an answer whatever its intent ("my code is 123456").
ANSWER_ENTITIES = frozenset(
    {"iban", "gift_card_code", "gift_card_ref", "amount", "amount_ambiguous"}
)
_QUESTION_START = re.compile(
    r"^(?:how|what|what's|whats|why|when|where|which|who|can|could|do|does|did|is|are|"
    r"will|would|should|may|am|have|has)\b",
    re.IGNORECASE,
)


def intent_confidence(tracker: Tracker) -> float:
    intent = (tracker.latest_message or {}).get("intent") or {}
    value = intent.get("confidence") if isinstance(intent, dict) else None
    return float(value) if isinstance(value, (int, float)) else 0.0


def is_answer(tracker: Tracker) -> bool:
    """Can the latest message be an answer to the form's question?"""
    intent = intent_of(tracker)
    if intent in INTERRUPTIONS:
        return False
    tasks = task_forms()
    if intent in tasks and intent_confidence(tracker) >= SWITCH_CONFIDENCE:
        active = (tracker.active_loop or {}).get("name")
        # No active loop yet: this message is activating the form (Rasa validates the
        # request's slots before it records the form as active).
        return active is None or tasks[intent] == active
    return not is_digression(tracker)


def is_digression(tracker: Tracker) -> bool:
    """A confident question of another kind while a form asks for a name or a code."""
    intent = intent_of(tracker)
    if (
        intent is None
        or intent in ANSWER_INTENTS
        or intent in task_forms()
        or intent_confidence(tracker) < SWITCH_CONFIDENCE
        or any(
            e.get("entity") in ANSWER_ENTITIES for e in tracker.latest_message.get("entities") or []
        )
    ):
        return False
    if intent in CONVERSATION_INTENTS:
        return (
            intent_confidence(tracker) >= CONVERSATION_CONFIDENCE
            and requested_slot(tracker) not in FREE_TEXT_SLOTS
        )
    text = latest_text(tracker).strip()
    if text.endswith("?"):
        return True
    if requested_slot(tracker) in FREE_TEXT_SLOTS:
        return False
    return bool(_QUESTION_START.match(text)) or len(text.split()) >= 5


def requested_slot(tracker: Tracker) -> str | None:
    value = tracker.get_slot("requested_slot")
    return value if isinstance(value, str) else None


def latest_text(tracker: Tracker) -> str:
    return str((tracker.latest_message or {}).get("text") or "")


_YES_NO = re.compile(
    r"^(?:y|n|yes|yeah|yep|yup|ya|no|nope|nah|ok|okay|k|sure|fine|correct|right|"
    r"(?:yes|no|ok|okay),? (?:please|thanks|thank you)|no thanks|of course|go ahead|"
    r"sounds good|i do|i don'?t|none|nothing|idk|dunno)$",
    re.IGNORECASE,
)


def is_yes_or_no(text: str) -> bool:
    """A bare yes/no/ok answer: never a name, whatever the form asked."""
    return bool(_YES_NO.match(re.sub(r"[\s.!?,]+$", "", text.strip())))


def reprompt_confirmation(tracker: Tracker, slot: str) -> dict[str, Any]:
    """While asking yes/no, an answer that is neither (the domain's from_intent mappings
    fill the slot for affirm/deny) clears the slot so the summary is asked again; a
    plain yes that the NLU took for the task itself ("yes add her") is a yes."""
    if requested_slot(tracker) != slot or not is_answer(tracker):
        return {}
    if intent_of(tracker) in ("affirm", "deny"):
        return {}
    return {slot: True if is_plain_yes_to_summary(tracker) else None}


# --- IBANs and names ----------------------------------------------------------------------


def iban_is_valid(candidate: str) -> bool:
    iban = re.sub(r"\s+", "", candidate).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", iban):
        return False
    digits = "".join(str(int(ch, 36)) for ch in iban[4:] + iban[:4])
    return int(digits) % 97 == 1


def _without_ibans(tracker: Tracker, text: str) -> tuple[str, str]:
    """(text before the first IBAN, text after it); the whole text and "" if none."""
    spans = [
        (int(e["start"]), int(e["end"]))
        for e in entities(tracker, "iban")
        if isinstance(e.get("start"), int) and isinstance(e.get("end"), int)
    ]
    if not spans:
        m = re.search(r"\b[A-Za-z]{2}\d{2}(?:\s?[A-Za-z0-9]){11,30}\b", text)
        if m is None or not iban_is_valid(m.group(0)):
            return text, ""
        spans = [(m.start(), m.end())]
    start, end = min(spans)
    return text[:start], text[end:]


_LEAD = re.compile(
    r"^\s*(?:please\s+|pls\s+|can you\s+|could you\s+)?"
    r"(?:(?:add|save|create|register|set up|store|put)\s+(?:a\s+|another\s+|one more\s+)?"
    r"(?:new\s+)?"
    r"(?:payee|recipient|beneficiary)?|new\s+(?:payee|recipient|beneficiary))\s*:?\s*",
    re.IGNORECASE,
)
_CALLED = re.compile(r"\b(?:called|named|name is|name's)\s+(?P<name>.+)$", re.IGNORECASE)
_CUT = re.compile(
    r"(?:'s?\s+(?:account|bank|iban|details)\b|\s+with\b|\s+as\b|\s+to my\b|\s+on my\b|"
    r"\s+so\b|\s+for\b|,|;|\s+iban\b|\s+account\b|\s+her\b|\s+his\b|\s+their\b)",
    re.IGNORECASE,
)
_ANSWER_LEAD = re.compile(
    r"^\s*(?:it'?s\s+|it is\s+|the name is\s+|name\s*:\s*|call (?:it|them|him|her)\s+|"
    r"called\s+|they'?re\s+|he'?s\s+|she'?s\s+|that'?s\s+)",
    re.IGNORECASE,
)
_NOT_A_NAME = {
    "a",
    "an",
    "new",
    "another",  # "add another payee" names nobody
    "other",
    "one",
    "more",
    "payee",
    "payees",
    "recipient",
    "beneficiary",
    "someone",
    "somebody",
    "this",
    "that",
    "it",
    "iban",
    "my",
    "the",
    "pls",
    "please",
    "me",  # "save a new recipient for me" names nobody
    "myself",
    "you",
    "us",
    "him",
    "her",
    "them",
}


def _tidy_name(text: str) -> str | None:
    name = re.sub(r"\s+", " ", text).strip(" \t:,.;!?\"'")
    name = re.sub(r"\s+(?:please|pls|thanks|thank you)$", "", name, flags=re.IGNORECASE)
    name = re.sub(r"^(?:for|to)\s+", "", name, flags=re.IGNORECASE)  # "… recipient for me"
    if not name or not re.search(r"[^\W\d_]", name) or len(name) > 70:
        return None
    if name.lower() in _NOT_A_NAME or name.split()[0].lower() in _NOT_A_NAME - {"my", "the"}:
        return None
    return name.title() if name.isupper() and len(name) > 3 else name


_NOT_IN_NAMES = frozenset(
    {
        "i",
        "i'm",
        "im",
        "me",
        "my",
        "you",
        "your",
        "we",
        "it",
        "it's",
        "is",
        "are",
        "was",
        "what",
        "where",
        "how",
        "why",
        "when",
        "which",
        "who",
        "don't",
        "dont",
        "not",
        "know",
        "have",
        "has",
        "find",
        "can",
        "can't",
        "cannot",
        "do",
        "does",
        "wait",
        "sorry",
        "help",
        "later",
        "cancel",
        "stop",
        "iban",
        "number",
        "account",
        "bank",
        "code",
        "send",
        "transfer",
        "money",
        "the",
        "this",
        "that",
    }
)


def _name_instead_of_iban(text: str) -> bool:
    """Asked for the IBAN, the customer gave the name ("John Smith"): letters only, a
    few words, no digit (every IBAN has check digits)."""
    words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", text.lower())
    return (
        0 < len(words) <= 4
        and not re.search(r"\d", text)
        and not is_yes_or_no(text)
        and not _NOT_IN_NAMES.intersection(words)
        and _tidy_name(text) is not None
    )


def person_named(tracker: Tracker) -> tuple[bool, str | None]:
    """(a relation was said, the name said with it): the NLU's person ("my brother, Tom
    Becker" -> (True, "Tom Becker")); "my brother" alone is no name: (True, None)."""
    person = entity_value(tracker, "person")
    if person:
        return True, _tidy_name(str(person))
    return bool(entity_value(tracker, "relation")), None


# "add payee GB82 WEST … Sarah Jones": capitalised words after the IBAN name the payee
# ("… as a payee" or "… to my payees" do not).
_NAME_AFTER_IBAN = re.compile(r"^\s*[A-Z][^\W\d_]*(?:[\s'-]+[A-Z][^\W\d_]*){0,3}\s*[.!]?\s*$")


def name_from_request(tracker: Tracker) -> str | None:
    """A payee name given along with the request or the IBAN, if there is one."""
    relation, person = person_named(tracker)
    if relation:
        return person
    text = latest_text(tracker)
    before, after = _without_ibans(tracker, text)
    called = _CALLED.search(before + " " + after)
    if called:
        return _tidy_name(_CUT.split(called.group("name"), maxsplit=1)[0])
    if after.strip() and (
        intent_of(tracker) != "add_payee" or _NAME_AFTER_IBAN.match(_ANSWER_LEAD.sub("", after))
    ):
        return _tidy_name(_ANSWER_LEAD.sub("", after))  # "[add payee] DE89 3704 … John Smith"
    if (
        before.strip()
        and intent_of(tracker) != "add_payee"
        and _name_instead_of_iban(_ANSWER_LEAD.sub("", before))
    ):
        return _tidy_name(_ANSWER_LEAD.sub("", before))  # "John Smith DE89 3704 …"
    lead = _LEAD.match(before)
    if intent_of(tracker) != "add_payee" or lead is None:
        return None
    return _tidy_name(_CUT.split(before[lead.end() :], maxsplit=1)[0])


def name_from_answer(tracker: Tracker) -> str | None:
    relation, person = person_named(tracker)
    if relation:
        return person
    before, after = _without_ibans(tracker, latest_text(tracker))
    text = f"{before} {after}"
    called = _CALLED.search(text)
    if called:
        return _tidy_name(called.group("name"))
    return _tidy_name(_ANSWER_LEAD.sub("", text.strip()))


# A new name said at the summary: "sorry, the name is Maria García López", "actually it's
# Maria Lopez", "I meant Maria Lopez not Maria Garcia", "change the name to Maria Lopez".
# The words that say it is a change go; the name said after "not" is the old one.
_CHANGE_LEAD = re.compile(
    r"^\s*(?:(?:no|nope|sorry|oops|whoops|actually|wait|hmm+|ah|oh|ok|okay|yes|yeah|but|"
    r"my (?:mistake|bad)|call (?:it|them|him|her)|save (?:it|them|him|her) as|"
    r"wrong name|typo|i mean|i meant|i mean to say|make (?:it|that)|correction|"
    r"(?:change|rename) (?:it|that|them|him|her|the name) to|"
    r"(?:it|that|the name|their name|his name|her name) should (?:be|read|say)|should be|"
    r"(?:it'?s |its |it is )?spel(?:led|t)(?: like)?)\b[\s,.:;!-]*)+",
    re.IGNORECASE,
)
_OLD_NAME_FIRST = re.compile(r"^\s*(?:not|instead of)\s+[^,;]+[,;]\s*", re.IGNORECASE)
_OLD_NAME_AFTER = re.compile(
    r"(?:[,;]\s*|\s+)(?:not|instead of|rather than)\b.*$|\s+instead\W*$", re.IGNORECASE
)
# Words of a sentence, not of a name ("no, it's wrong", "sorry, what?").
_NOT_NAME_WORDS = _NOT_IN_NAMES | {"wrong", "right", "fine", "correct", "sure", "good", "add"}


def corrected_name(tracker: Tracker, current: str | None) -> str | None:
    """The name a message at the summary puts in place of `current`, if it names one.

    The last part of the message that names someone counts ("the name is wrong, it
    should be Maria López"; "Maria López, not Maria Garcia"). Said with the word "name"
    (or "called", "spelled") any name counts; otherwise it shares a word with the
    current one ("Maria García López" for "Maria Garcia") or is said as a change and
    capitalised ("sorry, Anna Weber"), so that "Perfect" or "no, it's wrong" never
    becomes a payee's name."""
    text = latest_text(tracker)
    if is_yes_or_no(text) or text.strip().startswith("/"):
        return None
    relation, person = person_named(tracker)
    if relation:  # "it's for my sister Maria López": the NLU's person
        return person if person and person != current else None
    before, after = _without_ibans(tracker, text)
    said = f"{before} {after}".strip()
    named = bool(re.search(r"\b(?:name|called|named|spel\w*)\b", said, re.IGNORECASE))
    for part in reversed(_PARTS.split(said)):
        name = _name_in(part)
        if not name or name == current:
            continue
        words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", name)
        if not words or len(words) > 5 or _NOT_NAME_WORDS.intersection(w.lower() for w in words):
            continue
        changed = says_a_change(text) and all(w[0].isupper() for w in words)
        shared = set(_folded(name).split()) & set(_folded(current or "").split())
        if named or changed or shared:
            return _with_the_rest(name, part, current)
    return None


def _folded(name: str) -> str:
    """Lower case without accents: "María García" and "maria garcia" share words."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


_LAST_NAME = re.compile(r"\b(?:last|family|second|sur) ?name\b", re.IGNORECASE)
_FIRST_NAME = re.compile(r"\b(?:first|given) name\b", re.IGNORECASE)


def _with_the_rest(name: str, part: str, current: str | None) -> str:
    """ "the last name is López": the current first name with it ("Maria López"); "the
    first name is Marie": it with the current last name."""
    words = (current or "").split()
    if len(words) < 2:
        return name
    if _LAST_NAME.search(part):
        return f"{words[0]} {name}"
    if _FIRST_NAME.search(part):
        return f"{name} {' '.join(words[1:])}"
    return name


# The parts of a correction: "the name is wrong, it should be …", "yes but call her …".
_PARTS = re.compile(r"[,;]|\s+but\s+", re.IGNORECASE)


_NAME_IS = re.compile(
    r"\b(?:sur|(?:last|family|second|first|given|full) )?name\s*(?:is|should be|reads|:|=)\s+"
    r"(?P<name>.+)$",
    re.IGNORECASE,
)


def _name_in(part: str) -> str | None:
    """The name one part of a correction gives, without its lead ("it should be",
    "I meant") and without the old name it corrects ("… not Maria Garcia")."""
    part = _OLD_NAME_FIRST.sub("", part)
    called = _NAME_IS.search(part) or _CALLED.search(part)
    candidate = called.group("name") if called else _ANSWER_LEAD.sub("", _CHANGE_LEAD.sub("", part))
    return _tidy_name(_SPELLING_NOTE.sub("", _OLD_NAME_AFTER.sub("", candidate)))


# "Jonas Webber with two b", "Lee (double e)", "Meier spelt with e-i": how it is written,
# not part of the name.
_SPELLING_NOTE = re.compile(
    r"\s*(?:\(.*|\bwith\s+(?:a|an|one|two|three|double|\d)\s+\S.*|\bspel(?:t|led)\b.*|"
    r"\bwritten\b.*)$",
    re.IGNORECASE,
)


# --- listing ------------------------------------------------------------------------------


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
            if not tracker.get_slot("payee_name") and _name_instead_of_iban(text):
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
        if asked == "payee_iban" and _name_instead_of_iban(latest_text(tracker)):
            return {"payee_name": latest_text(tracker).strip()}  # "John Smith", then the IBAN
        name = name_from_request(tracker)
        return {"payee_name": name} if name else {}

    async def validate_payee_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:  # cleared by extract_payee_name, which said why
            return {"payee_name": None}
        name = _tidy_name(str(value or ""))
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


def _reset(slots: tuple[str, ...]) -> list[dict[str, Any]]:
    return [SlotSet(slot, None) for slot in slots]


# What a refused change of payees is told: adding (`context`: iban_masked) and removing
# (`context`: payee_name).
ADD_PAYEE_ANSWERS = AnswerTable(
    problems={
        "duplicate-payee": say("utter_payee_already_exists", "iban_masked"),
        "invalid-iban": say("utter_invalid_iban"),
    },
    rejected=say("utter_payee_not_saved"),
)
REMOVE_PAYEE_ANSWERS = AnswerTable(
    problems={404: say("utter_payee_already_removed", "payee_name")},  # removed already
    rejected=say("utter_payee_not_removed"),
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
                return [*_reset(ADD_PAYEE_SLOTS), SlotSet("last_payee", payee.name)]
            except core_banking_api.CoreBankingError as error:
                ADD_PAYEE_ANSWERS.tell(dispatcher, error, iban_masked=mask_account_number(iban))
        return _reset(ADD_PAYEE_SLOTS)


class ActionCancelAddPayeeForm(CancelTask, Action):
    action_name, cancelled_response, slots = (
        "action_cancel_add_payee_form",
        "utter_add_payee_cancelled",
        ADD_PAYEE_SLOTS,
    )


# --- removing -----------------------------------------------------------------------------


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
        return _reset(REMOVE_PAYEE_SLOTS)


class ActionCancelRemovePayeeForm(CancelTask, Action):
    action_name, cancelled_response, slots = (
        "action_cancel_remove_payee_form",
        "utter_remove_payee_cancelled",
        REMOVE_PAYEE_SLOTS,
    )
