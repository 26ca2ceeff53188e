"""Two-stage fallback: first offer the closest intents as buttons, then a human; and
the core fallback, which inside a form asks its question again."""

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

# Intents never offered as a guess: they are moves, not topics.
_NOT_SUGGESTED = {
    "nlu_fallback",
    "out_of_scope",
    "inform",
    "affirm",
    "deny",
    "greet",
    "goodbye",
    "thank",
    "cancel",
    "bot_challenge",
    "wait",
    "unsure",
    "frustrated",
    "repeat_message",
    "repeat_last_task",
    # Offered anyway, as the last button ("Talk to a person").
    "human_handoff",
    # Answered by the gateway's masking, never something to pick from a list.
    "shared_sensitive_data",
}
_SUGGESTIONS = 3


def intent_title(intent: str) -> str:
    """A readable button title for an intent name, e.g. card_arrival -> "Card arrival"."""
    words = intent.replace("_", " ").rstrip("?").strip()
    return words[:1].upper() + words[1:].lower()


def _previous_user_intent(tracker: Tracker) -> str:
    users = [e for e in tracker.events if e.get("event") == "user"]
    if len(users) < 2:
        return ""
    return str((users[-2].get("parse_data") or {}).get("intent", {}).get("name", ""))


class ActionSuggestIntents(Action):
    def name(self) -> str:
        return "action_suggest_intents"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if _previous_user_intent(tracker) == "nlu_fallback":
            # Second miss in a row: stop guessing, offer a person.
            dispatcher.utter_message(response="utter_rephrase_or_human")
            return []
        ranking = tracker.latest_message.get("intent_ranking") or []
        guesses = [r["name"] for r in ranking if r.get("name") not in _NOT_SUGGESTED]
        buttons = [
            {"title": intent_title(name), "payload": f"/{name}"} for name in guesses[:_SUGGESTIONS]
        ]
        buttons.append({"title": "Something else", "payload": "/nlu_fallback"})
        buttons.append({"title": "Talk to a person", "payload": "/human_handoff"})
        dispatcher.utter_message(response="utter_did_you_mean", buttons=buttons)
        return []


# An out-of-scope guess this unsure, right after the closest topics were offered, is the
# customer still not getting through ("zzzz qqq"), not a clear other subject.
_UNSURE_OUT_OF_SCOPE = 0.6


class ActionOutOfScope(Action):
    """Out of scope: say what the assistant does; but as the fallback's second stage
    (a person offered) when the last turn already missed and this guess is unsure."""

    def name(self) -> str:
        return "action_out_of_scope"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        confidence = float((tracker.latest_message.get("intent") or {}).get("confidence") or 0)
        if _previous_user_intent(tracker) == "nlu_fallback" and confidence < _UNSURE_OUT_OF_SCOPE:
            dispatcher.utter_message(response="utter_rephrase_or_human")
        else:
            dispatcher.utter_message(response="utter_out_of_scope")
        return []


class ActionDefaultFallback(Action):
    """RulePolicy's core fallback (`core_fallback_action_name` in bot/config.yml): no rule
    or form could take the last message, e.g. a bare "yes" when a form asked for an IBAN.

    Rasa's own version only says "Sorry, I didn't quite understand" and leaves the
    customer without the question. Inside a form this one says so and asks the form's
    question again (a yes/no question is asked as one); outside a form it is Rasa's. Like
    Rasa's, it reverts the message so the form waits for the next one."""

    def name(self) -> str:
        return "action_default_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        form = (tracker.active_loop or {}).get("name")
        slot = tracker.get_slot("requested_slot")
        if not form and _previous_user_intent(tracker) == "nlu_fallback":
            # Not understood twice in a row ("blorp fnarg", then "zzzz qqq"): a person.
            dispatcher.utter_message(response="utter_rephrase_or_human")
        elif not form or not slot:
            dispatcher.utter_message(response="utter_default")
        elif str(slot).endswith("_confirmed"):
            dispatcher.utter_message(response="utter_answer_yes_or_no")
        else:
            dispatcher.utter_message(response="utter_not_understood_in_form")
            ask = _ask_response(domain, form, str(slot))
            dispatcher.utter_message(response=ask or "utter_answer_above_or_cancel")
        return [UserUtteranceReverted()]


def _ask_response(domain: dict[str, Any], form: str, slot: str) -> str | None:
    """The form's `utter_ask_*` for `slot` in Rasa's order of precedence, or None when an
    `action_ask_*` comes first (that question is built by an action; it is not redone)."""
    actions, responses = set(domain.get("actions") or []), domain.get("responses") or {}
    for name in (f"_ask_{form}_{slot}", f"_ask_{slot}"):
        if f"action{name}" in actions:
            return None
        if f"utter{name}" in responses:
            return f"utter{name}"
    return None
