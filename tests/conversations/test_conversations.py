"""Every conversation in tests/conversations/*.yml as one test named after its id.

A conversation marked `xfail: "<reason>"` is a known failure of the assistant: it is
expected to fail (strict), so the fix that makes it pass shows up as XPASS -> failure,
and the mark is removed then.
"""

import pytest

from tests.conversations.runner import Outcome
from tests.conversations.spec import Conversation, load_conversations

pytestmark = pytest.mark.e2e


def cases() -> list:
    return [
        pytest.param(
            c,
            id=c.id,
            marks=[pytest.mark.xfail(reason=c.xfail, strict=True)] if c.xfail else [],
        )
        for c in load_conversations()
    ]


@pytest.mark.parametrize("conversation", cases())
def test_conversation(conversation: Conversation, outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes[conversation.id]
    if not outcome.ok:
        pytest.fail(outcome.report(), pytrace=False)
