"""The requests of one message, each sent once the one before it is done (pure logic over
two callables, so it is tested without Rasa).

"send 40 to savings and then show me my balance": the transfer's summary waits for a
yes, and the balance asked after it must come after the transfer, not in the middle of
it; "send 10 to savings and 20 to Alpine Energy": the second payment must get a summary
of its own, not land in the first one's as a correction. So after each request the
gateway asks Rasa which task the conversation is in (``RasaClient.task``); a request
that left a task waiting for the customer (a form opened, or moved to another
question) *holds* the requests after it. Held requests are kept with the session
(``ChatStore.held_requests``) and sent, in order, in the turn that ends that task: a
yes that completes it, a no that cancels it, another task that replaces it. A request
answered inside a task that was already waiting (a balance asked at the summary, a
correction) changes nothing there, so the next request follows at once.

Callers may rely on: every request is sent exactly once or returned as held, in the
order said (held ones from earlier messages before later ones, right after the request
that ended their task); nothing is sent while a task that a request of this run left
waiting is open. When Rasa cannot say which task it is in, this message's requests go
on in order (as before holding existed) and the held ones stay held.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TaskState:
    task: str | None  # the form the conversation is in, None outside any
    asks: str | None  # what it asks for (the slot), when it says


# Sends one request (text, its number within the turn) and returns Rasa's answer.
Send = Callable[[str, int], Awaitable[list[dict[str, Any]]]]
# The task the conversation is in now; None when Rasa could not say.
ReadTask = Callable[[], Awaitable[TaskState | None]]


@dataclass
class Outcome:
    answers: list[list[dict[str, Any]]] = field(default_factory=list)  # one per request sent
    held: list[str] = field(default_factory=list)  # requests still waiting, in order
    newly_held: list[str] = field(default_factory=list)  # those this run held


async def run_in_order(
    parts: list[str], held: list[str], send: Send, read_task: ReadTask
) -> Outcome:
    outcome = Outcome(held=list(held))
    queue = list(parts)
    # Only asked when it can matter: several requests, or some held from before.
    before = await read_task() if len(queue) > 1 else None
    sent = 0
    while queue:
        outcome.answers.append(await send(queue.pop(0), sent))
        sent += 1
        if not queue and not outcome.held:
            break
        after = await read_task()
        if after is None:  # unknown: this message goes on in order, the held stay held
            continue
        if after.task is None:  # no task waits: what was held comes next
            queue = outcome.held + queue
            outcome.held = []
        elif after != before and queue:  # this request left a task waiting
            outcome.newly_held += queue
            outcome.held += queue
            queue = []
        before = after
    return outcome
