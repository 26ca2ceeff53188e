"""The conversation files themselves (no services): they load, and the format refuses
what would silently switch a check off."""

from pathlib import Path

import pytest

from tests.conversations.spec import SpecError, load_conversations

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
