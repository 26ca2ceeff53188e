"""What gateway.chat.store.ChatStore's operations answer (plain values, no I/O), and
the JSON templates its scripts splice a Redis-allocated seq into."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gateway.chat.frames import Frame
from gateway.chat.protocol import TurnRecord
from gateway.chat.store_scripts import SEQ_SENTINEL


@dataclass(frozen=True)
class HandoffState:
    """A session's owner and handoff: ``state`` '' (none), ``requested`` or ``accepted``."""

    owner: str
    state: str
    agent_sub: str | None = None
    agent_name: str | None = None
    requested_at: float | None = None  # Redis clock, epoch seconds


@dataclass(frozen=True)
class FramePosted:
    seq: int


@dataclass(frozen=True)
class FrameRefused:
    """``reason``: ``gone`` (no such session), ``state`` (handoff state not allowed) or
    ``agent`` (another agent holds the conversation); ``found`` is what was there."""

    reason: str
    found: str


def seq_template(frame: Frame) -> tuple[str, str]:
    """The frame's JSON split around its ``seq`` value (``head + str(seq) + tail``).
    Every seq-carrying frame builder puts ``type`` then ``seq`` first, so the first
    ``"seq": `` in the text is the frame's own (one inside a JSON string would read
    ``\\"seq\\"``)."""
    text = json.dumps({**frame, "seq": SEQ_SENTINEL})
    head, found, tail = text.partition(f'"seq": {SEQ_SENTINEL}')
    if not found:
        raise ValueError(f"frame has no top-level seq: {frame!r}")
    return head + '"seq": ', tail


@dataclass(frozen=True)
class Fanout:
    """Where a session's frames are published, and the text around each frame there
    (``hub.SessionHub.fanout``)."""

    channel: str
    head: str
    tail: str = "}"

    def envelope(self, frame: Frame) -> str:
        return self.head + json.dumps(frame) + self.tail


@dataclass(frozen=True)
class Admitted:
    seq: int


@dataclass(frozen=True)
class Known:
    """This client_msg_id was admitted before (its ack seq, its replies once done)."""

    record: TurnRecord


@dataclass(frozen=True)
class Limited:
    limit: str  # "session" | "user"


@dataclass(frozen=True)
class QueueFull:
    pass


@dataclass(frozen=True)
class NextTurn:
    """The queue head the worker runs next (``turn`` None: its record expired;
    ``to_agent``: a support agent has taken the conversation over, so the bot must not
    answer it)."""

    client_msg_id: str
    turn: dict[str, Any] | None
    to_agent: bool = False


@dataclass(frozen=True)
class Completed:
    first_seq: int  # of the replies (0 when there were none)
    next: NextTurn | None  # None: the queue was empty and the lease is given up
