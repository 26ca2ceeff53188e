"""What every task form shares: a form only a logged-in customer fills, a summary that
only a clear yes confirms, whether a message answers the form's question or asks
something else (a digression the task policy answers first), and clearing slots."""

import re
from abc import abstractmethod
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.customer import customer_from_tracker
from actions.task_registry import task_forms


class CustomerTaskForm(FormValidationAction):
    """For a guest the form asks nothing: its submit action tells them to log in, so a
    guest is never walked through questions that end in "please log in first"."""

    @abstractmethod
    def name(self) -> str: ...

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if customer_from_tracker(tracker) is None:
            return []
        return domain_slots


# Words that mark a change of something already said ("actually make it 40", "wait make
# that 25", "it's for Mila not Mia"): a new value then replaces the one given, also at
# the summary, which is shown again.
_CHANGE = re.compile(
    r"\b(?:make (?:it|that)|change (?:it|that|the amount)|meant|mean|instead|actually|"
    r"rather|sorry|oops|wait|no|not)\b",
    re.IGNORECASE,
)


def says_a_change(text: str) -> bool:
    return bool(_CHANGE.search(text))


# A yes-word first ("yes delete it", "ok go ahead and send it"), and no doubt after it.
_PLAIN_YES = re.compile(
    r"^(?:y|yes|yeah|yep|yup|ya|ok|okay|sure|correct|right|confirm(?:ed)?|of course|go ahead|"
    r"sounds good|do it|send it)\b",
    re.IGNORECASE,
)
_DOUBT = re.compile(
    r"\b(?:not|no|don'?t|dont|but|wait|hmm+|maybe|unless|cancel|stop)\b|n't\b|\?", re.I
)
# A yes that moves money or changes payees: a button, a plain yes-word, or an `affirm`
# the NLU is this sure of: "hmm", "uh", "huh", "?" were affirm at 0.85-0.96 once, and
# must never send money (the `unsure` intent now takes them; this is the second guard).
CONFIRMING_CONFIDENCE = 0.97


def _says_plain_yes(text: str) -> bool:
    return bool(_PLAIN_YES.match(text)) and not _DOUBT.search(text)


def is_confident_yes(tracker: Tracker) -> bool:
    latest = tracker.latest_message or {}
    text = str(latest.get("text") or "").strip()
    intent = latest.get("intent") or {}
    confidence = intent.get("confidence") if isinstance(intent, dict) else None
    return (
        text.startswith("/")  # a button's payload
        or _says_plain_yes(text)
        or (
            isinstance(intent, dict)
            and intent.get("name") == "affirm"
            and isinstance(confidence, (int, float))
            and confidence >= CONFIRMING_CONFIDENCE
        )
    )


# Entities that name no new value for a summary: "yes add her" only points at the payee.
_NO_NEW_VALUE = frozenset({"pronoun"})


def is_plain_yes_to_summary(tracker: Tracker) -> bool:
    """A yes to a summary that the NLU read as the task itself ("yes add her", "ok buy
    it"): a yes-word first, no doubt, no change of anything ("ok add Maria instead"),
    and no new value in it, so it can only mean "do what the summary says"."""
    latest = tracker.latest_message or {}
    text = str(latest.get("text") or "").strip()
    named = {str(e.get("entity")) for e in latest.get("entities") or [] if isinstance(e, dict)}
    return _says_plain_yes(text) and not says_a_change(text) and named <= _NO_NEW_VALUE


def confirmation_value(slot: str, value: Any, tracker: Tracker) -> dict[str, Any]:
    """The yes/no of a summary; a doubtful yes is no answer, so the summary is asked
    again (the form's slot stays empty)."""
    if value is True and not is_confident_yes(tracker):
        return {slot: None}
    return {slot: value if isinstance(value, bool) else None}


def cleared(slots: tuple[str, ...]) -> list[dict[str, Any]]:
    """Events that empty `slots` (a task ended or started again)."""
    return [SlotSet(slot, None) for slot in slots]


# --- is this message an answer to the form's question? ------------------------------------

# Intents that are not an answer to the form's question: the form lets them through
# (the task policy answers them: cancel, a balance question, help, a handoff) instead of
# taking their text as a name or a message.
INTERRUPTIONS = frozenset({"cancel", "check_balance", "help", "human_handoff"})


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
    if intent in task_forms() and intent_confidence(tracker) >= SWITCH_CONFIDENCE:
        active = (tracker.active_loop or {}).get("name")
        # No active loop yet: this message is activating the form (Rasa validates the
        # request's slots before it records the form as active).
        return active is None or not asks_for_another_task(tracker, active)
    return not is_digression(tracker)


def asks_for_another_task(tracker: Tracker, form: str) -> bool:
    """A confident request of a task other than the one `form` does (bot/tasks.yml)."""
    tasks = task_forms()
    intent = intent_of(tracker)
    return (
        intent in tasks
        and tasks[intent] != form
        and intent_confidence(tracker) >= SWITCH_CONFIDENCE
    )


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
