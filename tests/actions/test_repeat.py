"""action_repeat_last_message: "can you repeat that?" sends the previous answer again."""

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.repeat import ActionRepeatLastMessage

BUTTONS = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]


def user(text: str) -> dict[str, Any]:
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": "x"}}}


def bot(text: str, **data: Any) -> dict[str, Any]:
    return {"event": "bot", "text": text, "data": data}


def tracker(events: list[dict[str, Any]], form: str | None = None) -> Tracker:
    return Tracker(
        sender_id="session-under-test",
        slots={},
        latest_message={"text": "can you repeat that", "intent": {"name": "repeat_message"}},
        events=events,
        paused=False,
        followup_action=None,
        active_loop={"name": form} if form else {},
        latest_action_name="action_listen",
    )


async def run(events: list[dict[str, Any]], form: str | None = None) -> list[dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    assert await ActionRepeatLastMessage().run(dispatcher, tracker(events, form), {}) == []
    return dispatcher.messages


async def test_the_previous_answer_is_sent_again_with_its_buttons() -> None:
    events = [
        user("hi"),
        bot("Hello! How can I help?"),
        user("send 20 to savings"),
        bot("Please confirm: send 20.00 EUR to your savings account?", buttons=BUTTONS),
        bot("Anything else meanwhile?"),
        user("sorry, can you repeat that"),
    ]
    messages = await run(events)
    assert [(m["text"], m["buttons"]) for m in messages] == [
        ("Please confirm: send 20.00 EUR to your savings account?", BUTTONS),
        ("Anything else meanwhile?", []),
    ]


async def test_a_secret_shown_once_is_not_shown_again() -> None:
    events = [
        user("buy a gift card for 25"),
        bot("Your gift card code: [sealed:TV12:gAAAAABtoken-of-the-code]. Keep it safe."),
        user("what was that?"),
    ]
    (message,) = await run(events)
    assert message["text"] == "Your gift card code: [gift card •••• TV12]. Keep it safe."
    assert "sealed" not in message["text"] and "gAAAA" not in message["text"]


async def test_nothing_said_yet() -> None:
    (message,) = await run([user("can you repeat that")])
    assert message["response"] == "utter_nothing_said_to_repeat"


async def test_inside_a_form_the_form_asks_again_instead() -> None:
    events = [user("add a payee"), bot("What's the IBAN?"), user("say that again")]
    assert await run(events, form="add_payee_form") == []
