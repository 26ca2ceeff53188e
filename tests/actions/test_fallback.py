"""`action_suggest_intents`: the closest topics as buttons, then a person."""

from typing import Any

from rasa_sdk import Tracker

from actions.fallback import ActionSuggestIntents


def missed(ranking: list[str], events: list[dict[str, Any]] | None = None) -> Tracker:
    latest = {"text": "hmm", "intent": {"name": "nlu_fallback", "confidence": 0.3},
              "intent_ranking": [{"name": n, "confidence": 0.1} for n in ranking],
              "entities": [], "metadata": {}}
    return Tracker(sender_id="s", slots={}, latest_message=latest, events=events or [],
                   paused=False, followup_action=None, active_loop={},
                   latest_action_name="action_listen")


async def test_topics_are_offered_but_never_moves_or_the_masking_warning(dispatcher) -> None:
    ranking = ["nlu_fallback", "check_balance", "shared_sensitive_data", "greet",
               "passcode_forgotten", "card_arrival", "exchange_rate"]
    await ActionSuggestIntents().run(dispatcher, missed(ranking), {})
    [message] = dispatcher.messages
    assert message["response"] == "utter_did_you_mean"
    assert [b["payload"] for b in message["buttons"]] == [
        "/check_balance", "/passcode_forgotten", "/card_arrival", "/nlu_fallback",
        "/human_handoff"]
    assert message["buttons"][2]["title"] == "Card arrival"


async def test_a_second_miss_offers_a_person(dispatcher) -> None:
    users = [{"event": "user", "parse_data": {"intent": {"name": "nlu_fallback"}}}] * 2
    await ActionSuggestIntents().run(dispatcher, missed(["check_balance"], users), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_rephrase_or_human"]
