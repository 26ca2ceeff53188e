"""The conversation files themselves and the effect checks (no services): the files load,
the format refuses what would silently switch a check off, and an unexpected change of
money, payees or cards is reported."""

from dataclasses import replace
from pathlib import Path

import pytest

from tests.conversations.customer import CustomerState, differences
from tests.conversations.spec import Conversation, Effect, SpecError, load_conversations

MINIMUM_CONVERSATIONS = 150  # issue 14


def test_the_suite_loads_with_enough_conversations() -> None:
    conversations = load_conversations()
    assert len(conversations) >= MINIMUM_CONVERSATIONS, len(conversations)
    numbers = [c.customer_number for c in conversations if c.customer_number]
    assert len(numbers) == len(set(numbers)), "each logged-in conversation has its own customer"


def test_every_conversation_checks_something() -> None:
    for conversation in load_conversations():
        checked = [t for t in conversation.turns if t.effect or t.expect != type(t.expect)()]
        assert checked, conversation.id


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("- id: a\n  turns: [{user: hi, expect: {contain: x}}]\n", "unknown key"),
        ("- id: a\n  turns: [{user: hi, payload: /affirm}]\n", "exactly one of"),
        ("- id: a\n  turns: [{user: hi, effect: {balance_change: {cheking: 1}}}]\n", "unknown"),
        ("- id: a\n  turns: [{user: hi, expect: {matches: '(unclosed'}}]\n", "bad regex"),
        ("- id: a\n  xfail: ''\n  turns: [{user: hi}]\n", "reason"),
        ("- id: a\n  turns: [{user: hi}]\n- id: a\n  turns: [{user: ho}]\n", "twice"),
        (
            "- id: a\n  guest: true\n  turns: [{user: hi, effect: {transfers_created: 0}}]\n",
            "guest",
        ),
    ],
)
def test_a_mistake_in_a_file_is_an_error(tmp_path: Path, text: str, error: str) -> None:
    (tmp_path / "bad.yml").write_text(text)
    with pytest.raises(SpecError, match=error):
        load_conversations(tmp_path)


START = CustomerState(
    balances={"checking": 100_000, "savings": 500_000},
    transfer_ids=frozenset({"t0"}),
    payee_names=("Alpine Energy AG", "City Housing (rent)"),
    card_statuses={"c1": "active"},
    gift_cards={},
)


def conversation(text: str, tmp_path: Path) -> Conversation:
    (tmp_path / "one.yml").write_text(text)
    return load_conversations(tmp_path)[0]


def test_money_that_moved_without_being_expected_is_a_failure(tmp_path: Path) -> None:
    quiet = conversation("- id: a\n  turns: [{user: hi, expect: {contains: hello}}]\n", tmp_path)
    moved = replace(
        START,
        balances={"checking": 96_000, "savings": 504_000},
        transfer_ids=frozenset({"t0", "t1"}),
    )
    problems = differences(quiet.final_effect(), START, moved, None)
    assert any("balance change" in p for p in problems), problems
    assert any("1 transfer(s) created, expected 0" in p for p in problems), problems
    assert differences(quiet.final_effect(), START, START, None) == []


def test_the_end_state_is_the_last_declared_effect(tmp_path: Path) -> None:
    text = (
        "- id: a\n  turns:\n"
        "    - {user: send 40 to savings, effect: {transfers_created: 0}}\n"
        "    - {payload: /affirm, effect: {balance_change: {checking: -4000, savings: 4000},"
        " transfers_created: 1}}\n"
        "    - {user: freeze my card, effect: {card_status: frozen}}\n"
    )
    final = conversation(text, tmp_path).final_effect()
    assert final.balance_change == {"checking": -4000, "savings": 4000}
    assert final.transfers_created == 1 and final.card_status == "frozen"
    assert final.payee_count_change == 0 and final.gift_cards_bought == 0
    after = replace(
        START,
        balances={"checking": 96_000, "savings": 504_000},
        transfer_ids=frozenset({"t0", "t1"}),
        card_statuses={"c1": "frozen"},
    )
    assert differences(final, START, after, None) == []
    wrong_amount = replace(after, balances={"checking": 99_600, "savings": 500_400})
    assert differences(final, START, wrong_amount, None) != []


def test_payee_and_card_checks_name_what_differs() -> None:
    expected = Effect(payee_exists=("Tom Becker",), payee_absent=("brother",), card_status="stolen")
    now = replace(START, payee_names=(*START.payee_names, "my brother"))
    problems = differences(expected, START, now, None)
    assert len(problems) == 3, problems
