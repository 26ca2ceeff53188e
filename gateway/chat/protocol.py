"""The chat protocol as a pure state machine (no I/O, no clock, no asyncio).

The I/O layer (``chat/connection.py``) feeds it what happened -- a text or binary
frame arrived, the hello deadline passed, the session was opened or refused -- and
performs the actions it returns, in order:

- ``Send(frame)``: send this frame to this socket only.
- ``Close(code)``: close the socket with this code; nothing more will be returned.
- ``OpenSession(hello)``: verify the token and open/resume the session, then call
  ``session_opened`` or ``session_refused`` with the outcome.
- ``StartTurn(message)``: queue this user turn for the session (turn processing itself
  is driven by ``ChatService`` using the pure helpers at the bottom of this module).
- ``RecordRating(frame)``: store the customer's ``feedback`` (one reply) or ``rating``
  (the conversation); malformed ones never get here (``bad_request``).

Callers may rely on: the first frame must be ``hello`` (anything else is refused with
``unauthorized`` + 4401, except frames that do not even parse, which get
``bad_request`` and leave the deadline running); after ``Close`` every input yields
``[]``; parse errors never close an open socket. The I/O layer reports two more
events: ``auth_expired`` (a message arrived after the socket's token ``exp``:
``unauthorized`` + 4401) and ``idle_timed_out`` (no frame for IDLE_TIMEOUT_SECONDS:
close 1001, no error frame -- nobody may be reading).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from gateway.chat import frames
from gateway.chat.frames import (
    FeedbackFrame,
    Frame,
    FrameError,
    HelloFrame,
    MessageFrame,
    PingFrame,
    RatingFrame,
)

CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_AUTH_TIMEOUT = 4408
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
GUEST_OWNER = "guest"
# Published to a session's sockets (never sent to a client) when staff erase it.
ERASED_SIGNAL = "_erased"


@dataclass(frozen=True)
class Send:
    frame: Frame


@dataclass(frozen=True)
class Close:
    code: int


@dataclass(frozen=True)
class OpenSession:
    hello: HelloFrame


@dataclass(frozen=True)
class StartTurn:
    message: MessageFrame


@dataclass(frozen=True)
class RecordRating:
    """Store the customer's ``feedback`` on one reply or ``rating`` of the conversation
    (the I/O layer checks that a feedback's seq is a ``bot`` frame of the session)."""

    rating: FeedbackFrame | RatingFrame


Action = Send | Close | OpenSession | StartTurn | RecordRating


class State(enum.Enum):
    AWAITING_HELLO = "awaiting_hello"
    OPENING = "opening"  # OpenSession returned, outcome not reported yet
    OPEN = "open"
    CLOSED = "closed"


class ChatProtocol:
    """One WebSocket connection's view of the protocol."""

    def __init__(self, max_frame_bytes: int) -> None:
        self.max_frame_bytes = max_frame_bytes
        self.state = State.AWAITING_HELLO
        self.session_id: str | None = None

    def receive_text(self, text: str) -> list[Action]:
        if self.state is State.CLOSED:
            return []
        try:
            frame = frames.parse_client_frame(text, self.max_frame_bytes)
        except FrameError as exc:
            return [Send(frames.error(exc.code, exc.message))]
        if self.state is State.AWAITING_HELLO:
            if isinstance(frame, HelloFrame):
                self.state = State.OPENING
                return [OpenSession(frame)]
            return self._close("unauthorized", "the first frame must be hello", CLOSE_UNAUTHORIZED)
        if self.state is State.OPENING:
            # The I/O layer does not read while opening; be explicit if it ever does.
            return [Send(frames.error("bad_request", "wait for welcome"))]
        if isinstance(frame, PingFrame):
            return [Send(frames.pong())]
        if isinstance(frame, MessageFrame):
            return [StartTurn(frame)]
        if isinstance(frame, FeedbackFrame | RatingFrame):
            return [RecordRating(frame)]
        return [Send(frames.error("bad_request", "hello was already received"))]

    def receive_bytes(self, _data: bytes) -> list[Action]:
        if self.state is State.CLOSED:
            return []
        return [Send(frames.error("bad_request", "binary frames are not supported"))]

    def hello_timed_out(self) -> list[Action]:
        if self.state is not State.AWAITING_HELLO:
            return []
        return self._close("auth_timeout", "no hello received in time", CLOSE_AUTH_TIMEOUT)

    def auth_expired(self) -> list[Action]:
        if self.state is not State.OPEN:
            return []
        return self._close(
            "unauthorized",
            "the access token has expired; refresh it and resume the session",
            CLOSE_UNAUTHORIZED,
        )

    def session_erased(self) -> list[Action]:
        """Staff erased this conversation: it no longer exists to talk in (the client
        starts a new one, as after ``forbidden`` on resume)."""
        if self.state is not State.OPEN:
            return []
        return self._close("forbidden", "this conversation was erased", CLOSE_FORBIDDEN)

    def idle_timed_out(self) -> list[Action]:
        if self.state is not State.OPEN:
            return []
        self.state = State.CLOSED
        return [Close(CLOSE_GOING_AWAY)]

    def session_opened(
        self, session_id: str, *, resumed: bool, user: str | None, replay: Sequence[Frame]
    ) -> list[Action]:
        assert self.state is State.OPENING, self.state
        self.state = State.OPEN
        self.session_id = session_id
        return [Send(frames.welcome(session_id, resumed, user)), *(Send(f) for f in replay)]

    def session_refused(self, code: str, message: str, close_code: int) -> list[Action]:
        assert self.state is State.OPENING, self.state
        return self._close(code, message, close_code)

    def _close(self, code: str, message: str, close_code: int) -> list[Action]:
        self.state = State.CLOSED
        return [Send(frames.error(code, message)), Close(close_code)]


# --- pure decisions used by ChatService ------------------------------------------------


def owner_of(user: str | None) -> str:
    """Session owner tag: ``customer:<sub>`` or ``guest``."""
    return GUEST_OWNER if user is None else f"customer:{user}"


def may_resume(owner: str, user: str | None) -> bool:
    """Only the owner resumes a session.

    Customer sessions: only a hello with a valid token for the same ``sub``. Guest
    sessions: only a guest hello (no token); the unguessable 128-bit session id acts
    as the guest's bearer secret, and a logged-in user cannot adopt a guest session
    (that would mix an anonymous transcript into an authenticated one).
    """
    return owner == owner_of(user)


def frames_after(stored: Iterable[Frame], last_seq: int) -> list[Frame]:
    """Stored frames to re-send on resume: ``seq > last_seq``, in ``seq`` order."""
    return sorted(
        (f for f in stored if int(f.get("seq", 0)) > last_seq), key=lambda f: int(f["seq"])
    )


@dataclass(frozen=True)
class TurnRecord:
    """Dedupe record of one ``client_msg_id``: its ack seq and, once done, its replies."""

    seq: int
    done: bool
    frames: tuple[Frame, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "done": self.done, "frames": list(self.frames)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TurnRecord:
        return cls(
            seq=int(data["seq"]), done=bool(data["done"]), frames=tuple(data.get("frames", ()))
        )


@dataclass(frozen=True)
class NewTurn:
    """Never seen: allocate a seq, store, ack, ask the bot."""


@dataclass(frozen=True)
class ReplayTurn:
    """Already answered: re-send the same ack and the stored replies; do not ask again."""

    frames: tuple[Frame, ...]


@dataclass(frozen=True)
class PendingTurn:
    """Stored and acked, not answered yet (queued, running on some instance, or waiting
    for Rasa to come back): re-ack only; the replies reach every socket of the session
    through the hub when they are ready."""

    ack: Frame


TurnPlan = NewTurn | ReplayTurn | PendingTurn


def plan_turn(client_msg_id: str, record: TurnRecord | None) -> TurnPlan:
    if record is None:
        return NewTurn()
    ack = frames.ack(client_msg_id, record.seq)
    if record.done:
        return ReplayTurn((ack, *record.frames))
    return PendingTurn(ack)


def bot_frames(first_seq: int, reply_to: str, responses: Sequence[dict[str, Any]]) -> list[Frame]:
    """Server frames for a turn's Rasa responses, numbered from ``first_seq``.

    One ``bot`` frame per response, except that a response whose ``custom`` has
    ``"handoff": "requested"`` is (also) a ``handoff`` frame ``{seq, state}``: after its
    ``bot`` frame when it carries text, buttons or an image; instead of it otherwise.
    Use ``len(bot_frames(0, ...))`` to know how many seqs to allocate.
    """
    out: list[Frame] = []
    for response in responses:
        handoff = requests_handoff(response)
        visible = response.get("text") or response.get("buttons") or response.get("image")
        if visible or not handoff:
            out.append(frames.bot(first_seq + len(out), reply_to, response))
        if handoff:
            out.append(frames.handoff(first_seq + len(out), "requested"))
    return out


def requests_handoff(response: dict[str, Any]) -> bool:
    custom = response.get("custom")
    return isinstance(custom, dict) and custom.get("handoff") == "requested"


def auth_valid(expires_at: int | None, now: float) -> bool:
    """A socket's own authentication still holds (guests have none to expire)."""
    return expires_at is None or now < expires_at


_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,3}")


def locale_from_accept_language(header: str | None) -> str | None:
    """The customer's preferred language tag from the handshake's Accept-Language
    (browsers send it on the WebSocket upgrade), e.g. "de-DE" from
    "de-DE,de;q=0.9,en;q=0.8": the first listed tag, as the browser orders them by
    preference. None when absent or not a language tag ("*", junk), so the NLU
    asks instead of guessing how the customer writes numbers ("1.100")."""
    if not header:
        return None
    first = header.split(",", 1)[0].split(";", 1)[0].strip()
    return first if _LANGUAGE_TAG.fullmatch(first) else None


def origin_allowed(origin: str | None, host: str | None, allowed: Collection[str]) -> bool:
    """Handshake Origin policy (CONTRACT.md): no Origin (apps, load tests) is fine;
    otherwise it must be in ALLOWED_ORIGINS or be the gateway's own origin, i.e. name
    the same host[:port] the request was sent to (the widget page served at ``/``).
    Behind a proxy that rewrites Host, list the public origin in ALLOWED_ORIGINS.
    """
    if origin is None:
        return True
    origin = origin.strip().rstrip("/").lower()
    if origin in {o.lower() for o in allowed}:
        return True
    parts = urlsplit(origin)
    return (
        parts.scheme in ("http", "https")
        and host is not None
        and parts.netloc == host.strip().lower()
    )


def rated_reply(stored: Iterable[Frame], seq: int) -> bool:
    """A ``feedback`` frame must name a ``bot`` frame of its session."""
    return any(f.get("type") == "bot" and f.get("seq") == seq for f in stored)
