"""`action_suggest_intents`: the closest topics as buttons, then a person; and
`action_default_fallback`, which asks a form's question again."""

from pathlib import Path
from typing import Any

import yaml
from rasa_sdk import Tracker

from actions.fallback import ActionDefaultFallback, ActionOutOfScope, ActionSuggestIntents

DOMAIN = Path(__file__).resolve().parents[2] / "bot" / "domain"


def missed(ranking: list[str], events: list[dict[str, Any]] | None = None) -> Tracker:
    latest = {
        "text": "hmm",
        "intent": {"name": "nlu_fallback", "confidence": 0.3},
        "intent_ranking": [{"name": n, "confidence": 0.1} for n in ranking],
        "entities": [],
        "metadata": {},
    }
    return Tracker(
        sender_id="s",
        slots={},
        latest_message=latest,
        events=events or [],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


async def test_topics_are_offered_but_never_moves_or_the_masking_warning(dispatcher) -> None:
    ranking = [
        "nlu_fallback",
        "check_balance",
        "shared_sensitive_data",
        "greet",
        "passcode_forgotten",
        "card_arrival",
        "exchange_rate",
    ]
    await ActionSuggestIntents().run(dispatcher, missed(ranking), {})
    [message] = dispatcher.messages
    assert message["response"] == "utter_did_you_mean"
    assert [b["payload"] for b in message["buttons"]] == [
        "/check_balance",
        "/passcode_forgotten",
        "/card_arrival",
        "/nlu_fallback",
        "/human_handoff",
    ]
    assert message["buttons"][2]["title"] == "Card arrival"


async def test_gibberish_is_offered_topics_not_moves_nor_a_person_twice(dispatcher) -> None:
    # "asdfgh" once ranked wait, human_handoff and unsure first: the buttons were
    # "Wait", "Human handoff", "Unsure", then "Talk to a person" again.
    ranking = [
        "nlu_fallback",
        "wait",
        "human_handoff",
        "unsure",
        "frustrated",
        "repeat_message",
        "repeat_last_task",
        "check_balance",
        "card_arrival",
        "exchange_rate",
    ]
    await ActionSuggestIntents().run(dispatcher, missed(ranking), {})
    [message] = dispatcher.messages
    assert [b["payload"] for b in message["buttons"]] == [
        "/check_balance",
        "/card_arrival",
        "/exchange_rate",
        "/nlu_fallback",
        "/human_handoff",
    ]


async def test_a_second_miss_offers_a_person(dispatcher) -> None:
    users = [{"event": "user", "parse_data": {"intent": {"name": "nlu_fallback"}}}] * 2
    await ActionSuggestIntents().run(dispatcher, missed(["check_balance"], users), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_rephrase_or_human"]


def out_of_scope(confidence: float, previous: str) -> Tracker:
    latest = {
        "text": "zzzz qqq",
        "intent": {"name": "out_of_scope", "confidence": confidence},
        "entities": [],
        "metadata": {},
    }
    users = [
        {"event": "user", "parse_data": {"intent": {"name": previous}}},
        {"event": "user", "parse_data": {"intent": latest["intent"]}},
    ]
    return Tracker(
        sender_id="s",
        slots={},
        latest_message=latest,
        events=users,
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


async def test_an_unsure_out_of_scope_after_a_miss_is_the_second_stage(dispatcher) -> None:
    await ActionOutOfScope().run(dispatcher, out_of_scope(0.4, "nlu_fallback"), {})
    await ActionOutOfScope().run(dispatcher, out_of_scope(0.95, "nlu_fallback"), {})
    await ActionOutOfScope().run(dispatcher, out_of_scope(0.4, "greet"), {})
    assert [m["response"] for m in dispatcher.messages] == [
        "utter_rephrase_or_human",
        "utter_out_of_scope",
        "utter_out_of_scope",
    ]


def in_form(form: str | None, slot: str | None) -> Tracker:
    latest = {
        "text": "yes",
        "intent": {"name": "affirm", "confidence": 0.97},
        "entities": [],
        "metadata": {},
    }
    return Tracker(
        sender_id="s",
        slots={"requested_slot": slot},
        latest_message=latest,
        events=[],
        paused=False,
        followup_action=None,
        active_loop={"name": form} if form else {},
        latest_action_name="action_listen",
    )


def domain_responses() -> dict[str, Any]:
    """The bot's real responses and actions, so the asked-again question is the bot's."""
    responses: dict[str, Any] = {}
    actions: list[str] = []
    for path in sorted(DOMAIN.glob("*.yml")):
        part = yaml.safe_load(path.read_text()) or {}
        responses.update(part.get("responses") or {})
        actions += part.get("actions") or []
    return {"responses": responses, "actions": actions}


async def test_a_reply_no_form_slot_takes_gets_the_question_again(dispatcher) -> None:
    events = await ActionDefaultFallback().run(
        dispatcher, in_form("transfer_form", "transfer_destination"), domain_responses()
    )
    assert [m["response"] for m in dispatcher.messages] == [
        "utter_not_understood_in_form",
        "utter_ask_transfer_destination",
    ]
    assert events == [{"event": "rewind", "timestamp": None}]  # the form waits again


async def test_a_confirmation_is_asked_as_yes_or_no(dispatcher) -> None:
    await ActionDefaultFallback().run(
        dispatcher, in_form("transfer_form", "transfer_confirmed"), domain_responses()
    )
    assert [m["response"] for m in dispatcher.messages] == ["utter_answer_yes_or_no"]


async def test_a_slot_asked_by_an_action_gets_a_plain_hint(dispatcher) -> None:
    # action_ask_remove_payee_form_payee_name asks it, not utter_ask_payee_name (that one
    # is the add-payee form's question).
    await ActionDefaultFallback().run(
        dispatcher, in_form("remove_payee_form", "payee_name"), domain_responses()
    )
    assert [m["response"] for m in dispatcher.messages] == [
        "utter_not_understood_in_form",
        "utter_answer_above_or_cancel",
    ]


async def test_outside_a_form_it_is_rasas_fallback(dispatcher) -> None:
    events = await ActionDefaultFallback().run(dispatcher, in_form(None, None), domain_responses())
    assert [m["response"] for m in dispatcher.messages] == ["utter_default"]
    assert events == [{"event": "rewind", "timestamp": None}]


def test_every_response_it_uses_is_in_the_domain() -> None:
    responses = domain_responses()["responses"]
    for name in (
        "utter_default",
        "utter_not_understood_in_form",
        "utter_answer_yes_or_no",
        "utter_answer_above_or_cancel",
        "utter_ask_transfer_destination",
    ):
        assert name in responses


async def test_not_understood_twice_outside_a_task_offers_a_person(dispatcher) -> None:
    """ "blorp fnarg" (the closest topics offered), then "zzzz qqq" that no rule takes
    (a doubtful `inform`): the second miss offers a person, not "please rephrase"."""
    missed_then = out_of_scope(0.31, "nlu_fallback")
    await ActionDefaultFallback().run(dispatcher, missed_then, domain_responses())
    understood_then = out_of_scope(0.31, "greet")
    await ActionDefaultFallback().run(dispatcher, understood_then, domain_responses())
    assert [m["response"] for m in dispatcher.messages] == [
        "utter_rephrase_or_human",
        "utter_default",
    ]
