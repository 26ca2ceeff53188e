"""A message's requests each wait for the task the one before left open (issue 14):
``gateway/chat/sequence.py`` against a scripted bot, and through a real gateway to the
stub Rasa (which opens a task on ``send …`` and ends it on yes / no)."""

from __future__ import annotations

import uuid
from typing import Any

from gateway.chat.sequence import Outcome, TaskState, run_in_order
from tests.gateway.conftest import ServerThread, StubRasa
from tests.gateway.test_ws import hello, socket, turn

SUMMARY = TaskState("transfer_form", "transfer_confirmed")
AMOUNT = TaskState("transfer_form", "transfer_amount")
NONE = TaskState(None, None)


class Bot:
    """Answers each request with its text and moves to the state scripted for it
    (default: unchanged); ``unknown`` makes the task unreadable."""

    def __init__(self, start: TaskState, script: dict[str, TaskState], unknown: bool = False):
        self.state, self.script, self.unknown = start, script, unknown
        self.sent: list[tuple[str, int]] = []

    async def send(self, text: str, n: int) -> list[dict[str, Any]]:
        self.sent.append((text, n))
        self.state = self.script.get(text, self.state)
        return [{"text": text}]

    async def read(self) -> TaskState | None:
        return None if self.unknown else self.state


async def play(bot: Bot, parts: list[str], held: list[str] | None = None) -> Outcome:
    return await run_in_order(parts, held or [], bot.send, bot.read)


async def test_a_request_after_one_that_waits_for_a_yes_is_held() -> None:
    bot = Bot(NONE, {"send 40 to savings": SUMMARY})
    outcome = await play(bot, ["send 40 to savings", "show me my balance"])
    assert bot.sent == [("send 40 to savings", 0)]
    assert outcome.held == outcome.newly_held == ["show me my balance"]
    # The yes that completes the transfer sends it, in the same turn, right after.
    bot.script["yes"] = NONE
    later = await play(bot, ["yes"], outcome.held)
    assert bot.sent[1:] == [("yes", 0), ("show me my balance", 1)]
    assert later.held == later.newly_held == []
    assert [a[0]["text"] for a in later.answers] == ["yes", "show me my balance"]


async def test_a_second_payment_waits_for_the_first_and_a_cancel_releases_it() -> None:
    bot = Bot(NONE, {"send 10 to savings": SUMMARY, "send 20 to alpine": SUMMARY})
    parts = ["send 10 to savings", "send 20 to alpine", "show my balance"]
    first = await play(bot, parts)
    assert first.held == ["send 20 to alpine", "show my balance"]
    bot.script["no"] = NONE  # cancelled: the next one starts, with its own summary
    second = await play(bot, ["no"], first.held)
    assert [t for t, _ in bot.sent] == ["send 10 to savings", "no", "send 20 to alpine"]
    assert second.held == ["show my balance"]
    assert second.newly_held == ["show my balance"]  # told again: still to come
    bot.script["yes"] = NONE
    third = await play(bot, ["yes"], second.held)
    assert [t for t, _ in bot.sent][-2:] == ["yes", "show my balance"]
    assert third.held == []


async def test_a_question_inside_a_waiting_task_holds_nothing() -> None:
    # At the summary already: a balance question and a support question are answered
    # in turn (the task is as it was), nothing is held.
    bot = Bot(SUMMARY, {})
    outcome = await play(bot, ["how much do i have", "how long does a transfer take"])
    assert [t for t, _ in bot.sent] == ["how much do i have", "how long does a transfer take"]
    assert outcome.held == []


async def test_moving_to_another_question_of_the_task_holds_the_rest() -> None:
    bot = Bot(AMOUNT, {"50": SUMMARY})
    outcome = await play(bot, ["50", "show my cards"])
    assert outcome.held == ["show my cards"]


async def test_held_requests_stay_while_the_task_waits() -> None:
    bot = Bot(SUMMARY, {})
    outcome = await play(bot, ["how much do i have"], ["show my cards"])
    assert bot.sent == [("how much do i have", 0)]
    assert outcome.held == ["show my cards"] and outcome.newly_held == []


async def test_requests_without_tasks_go_in_order_and_single_ones_ask_nothing() -> None:
    bot = Bot(NONE, {})
    outcome = await play(bot, ["show my balance", "list my cards", "who are my payees"])
    assert [n for _, n in bot.sent] == [0, 1, 2] and outcome.held == []

    asked: list[int] = []

    async def never(text: str, n: int) -> list[dict[str, Any]]:
        return []

    async def read() -> TaskState | None:
        asked.append(1)
        return NONE

    await run_in_order(["show my balance"], [], never, read)
    assert asked == []  # one request and nothing held: no extra call to Rasa


async def test_unknown_task_state_goes_on_in_order_and_keeps_the_held() -> None:
    bot = Bot(NONE, {"send 40 to savings": SUMMARY}, unknown=True)
    outcome = await play(bot, ["send 40 to savings", "show me my balance"], ["list my cards"])
    assert [t for t, _ in bot.sent] == ["send 40 to savings", "show me my balance"]
    assert outcome.held == ["list my cards"]


async def test_held_through_the_gateway_and_said_so(
    gateway: ServerThread, stub_rasa: StubRasa
) -> None:
    tag = uuid.uuid4().hex[:6]
    async with socket(gateway) as ws:
        sid = (await hello(ws))["session_id"]
        first = await turn(
            ws, f"send 10 to savings {tag} and 20 to alpine and then show my balance", "c1"
        )
        assert [c["message"] for c in stub_rasa.calls_from(sid)] == [f"send 10 to savings {tag}"]
        assert [f["text"] for f in first if f["type"] == "bot"] == [
            f"you said: send 10 to savings {tag}",
            "held: send 20 to alpine; show my balance",
        ]
        second = await turn(ws, "yes", "c2")
        third = await turn(ws, "yes", "c3")
    calls = stub_rasa.calls_from(sid)
    assert [c["message"] for c in calls] == [
        f"send 10 to savings {tag}",
        "yes",
        "send 20 to alpine",
        "yes",
        "show my balance",
    ]
    # Each its own turn identity: a money-moving yes is never keyed like another.
    assert [c["metadata"]["turn_id"] for c in calls] == [
        f"{sid}:c1",
        f"{sid}:c2",
        f"{sid}:c2:1",
        f"{sid}:c3",
        f"{sid}:c3:1",
    ]
    assert [f["text"] for f in second if f["type"] == "bot"] == [
        "you said: yes",
        "you said: send 20 to alpine",
        "held: show my balance",
    ]
    assert [f["text"] for f in third if f["type"] == "bot"] == [
        "you said: yes",
        "you said: show my balance",
    ]
    assert all(f["reply_to"] == "c3" for f in third if f["type"] == "bot")
