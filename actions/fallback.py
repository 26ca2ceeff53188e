"""Two-stage fallback: first offer the closest intents as buttons, then a human."""

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

# Intents never offered as a guess: they are moves, not topics.
_NOT_SUGGESTED = {
    "nlu_fallback", "out_of_scope", "inform", "affirm", "deny", "greet", "goodbye",
    "thank", "cancel", "bot_challenge",
    # Answered by the gateway's masking, never something to pick from a list.
    "shared_sensitive_data",
}  # fmt: skip
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
