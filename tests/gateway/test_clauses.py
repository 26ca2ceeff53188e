"""Several requests in one message reach Rasa one after another (issue 14): the pure
splitter, then through a real gateway to the stub Rasa."""

from __future__ import annotations

import uuid

import pytest

from gateway.chat.clauses import split
from tests.gateway.conftest import ServerThread, StubRasa
from tests.gateway.test_ws import hello, socket, turn


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        (
            "send 40 to savings and then show me my balance",
            ["send 40 to savings", "show me my balance"],
        ),
        (
            "how much do i have in checking and savings, and when did my salary last come in?",
            ["how much do i have in checking and savings", "when did my salary last come in?"],
        ),
        ("who are my payees? delete Anna Schmidt", ["who are my payees?", "delete Anna Schmidt"]),
        ("check my balance; send 10 to anna", ["check my balance", "send 10 to anna"]),
        ("yes, and then show my balance", ["yes", "show my balance"]),
        ("cancel the transfer and freeze my card", ["cancel the transfer", "freeze my card"]),
        # Another task's thing without a verb (the conversation suite).
        ("my balance and my cards", ["my balance", "my cards"]),
        # "then" and "after that" order them too.
        (
            "send 40 to savings then show me my balance",
            ["send 40 to savings", "show me my balance"],
        ),
        (
            "move 100 to savings, and after that what's my checking balance?",
            ["move 100 to savings", "what's my checking balance?"],
        ),
        # A second amount with its own recipient is a second payment, with the verb.
        ("send 20 to anna and 30 to tom", ["send 20 to anna", "send 30 to tom"]),
        (
            "pls transfer €15 to city housing, and another 25 eur to my savings",
            ["pls transfer €15 to city housing", "transfer 25 eur to my savings"],
        ),
        ("pay anna 20 and tom 30", ["pay anna 20", "pay tom 30"]),
        (
            "pay alpine energy 20 & city housing 30",
            ["pay alpine energy 20", "pay city housing 30"],
        ),
        (
            "pay 10 to savings and 20 to alpine energy and then show my balance",
            ["pay 10 to savings", "pay 20 to alpine energy", "show my balance"],
        ),
        (
            "list my payees and my last 3 transactions",
            ["list my payees", "my last 3 transactions"],
        ),
        # After a greeting or a lead-in the second payment is still found.
        (
            "hi, can you send 20 to my savings and another 10 to alpine energy?",
            ["hi, can you send 20 to my savings", "send 10 to alpine energy?"],
        ),
        (
            "good morning! i need to pay 30 to alpine energy and 40 to city housing",
            ["good morning! i need to pay 30 to alpine energy", "pay 40 to city housing"],
        ),
        # After a question, its follow-up is a request of its own (it was dropped).
        (
            "how much did i spend on fuel in november? and on groceries?",
            ["how much did i spend on fuel in november?", "and on groceries?"],
        ),
        (
            "what did i spend at amazon? what about tesco?",
            ["what did i spend at amazon?", "what about tesco?"],
        ),
        # A decimal comma stays in its amount; a comma before a space still connects.
        (
            "i want to send 75,50 to anna, and 20 to tom",
            ["i want to send 75,50 to anna", "send 20 to tom"],
        ),
    ],
)
def test_requests_are_split_in_order(text: str, parts: list[str]) -> None:
    assert split(text) == parts


@pytest.mark.parametrize(
    "text",
    [
        "send 50 to Anna and Tom",  # a list of names is one request
        "show my transactions at tesco and amazon",
        "freeze my card and order a new one",
        "I moved house and need to update my address",
        "how much did I spend and where",  # a lone question word starts no request
        "Tom Becker, DE89 3704 0044 0532 0130 00",
        "reference rent and utilities",
        "what is a cvv?",
        "send 50 to Anna and my brother",
        "found it! unfreeze please",  # a short exclamation stays with its request
        "what is my balance and the balance of savings",
        "send 50 to anna for 2 to 3 tickets",  # no "and" or comma: one payment
        "show payments between 10 and 20",
        "pay my rent and 20 more to anna",  # no recipient before the second amount
        "pay anna 20 and tom",  # Tom has no amount of his own
        "transfer 50 and tom 60",
        # A comma inside an amount is no connector, and the "to" of "want to" names no
        # recipient ("i want to transfer 75" + "transfer 50 to my savings" was a real split).
        "i want to transfer 75,50 to my savings",
        "i want to transfer 1,100 to savings",
        "please send 1,250.75 to city housing",
    ],
)
def test_one_request_stays_whole(text: str) -> None:
    assert split(text) == [text]


def test_at_most_four_parts_and_nothing_lost() -> None:
    text = (
        "show my balance and show my cards and show my payees and list my gift cards "
        "and show my transactions"
    )
    parts = split(text)
    assert len(parts) == 4
    assert parts[-1] == "list my gift cards and show my transactions"


async def test_each_request_is_its_own_rasa_message_in_one_turn(
    gateway: ServerThread, stub_rasa: StubRasa
) -> None:
    # (A request that leaves a task waiting holds the rest: test_sequence.py.)
    tag = uuid.uuid4().hex[:6]
    async with socket(gateway) as ws:
        sid = (await hello(ws))["session_id"]
        frames = await turn(ws, f"show my cards {tag} and then show me my balance", "c1")
    calls = stub_rasa.calls_from(sid)
    assert [c["message"] for c in calls] == [f"show my cards {tag}", "show me my balance"]
    # Each its own turn identity, so a transfer confirmed in one is never keyed twice.
    assert [c["metadata"]["turn_id"] for c in calls] == [f"{sid}:c1", f"{sid}:c1:1"]
    bots = [f for f in frames if f["type"] == "bot"]
    assert [b["text"] for b in bots] == [
        f"you said: show my cards {tag}",
        "you said: show me my balance",
    ]
    assert all(b["reply_to"] == "c1" for b in bots)
    assert [f["type"] for f in frames].count("ack") == 1  # one turn for the customer


async def test_the_same_answer_to_two_parts_is_said_once(
    gateway: ServerThread, stub_rasa: StubRasa
) -> None:
    """Two parts asking the same thing ("do i have to pay tax on my savings? what should
    i declare" both got the can't-advise answer) are answered once."""
    async with socket(gateway) as ws:
        sid = (await hello(ws))["session_id"]
        frames = await turn(ws, "show my balance and show my balance", "c1")
    assert [c["message"] for c in stub_rasa.calls_from(sid)] == ["show my balance"] * 2
    bots = [f["text"] for f in frames if f["type"] == "bot"]
    assert bots == ["you said: show my balance"]
