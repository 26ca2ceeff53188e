"""What every task form shares: a form only a logged-in customer fills, and a summary
that only a clear yes confirms."""

import re
from abc import abstractmethod
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.customer import customer_from_tracker


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
