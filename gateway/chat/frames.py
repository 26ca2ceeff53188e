"""Client frame models (validated) and server frame builders (CONTRACT.md protocol).

Callers may rely on: ``parse_client_frame`` returns a ``HelloFrame``, ``MessageFrame``
or ``PingFrame`` or raises ``FrameError`` with a contract error code, whatever the
input (also JSON nested thousands deep); a frame over the byte limit, or a ``text`` or
``payload`` over MAX_TEXT characters, is ``too_large``; unknown extra fields are ignored
(forward compatibility). Server frames are plain dicts ready for
``json.dumps``.

(It also returns ``FeedbackFrame`` and ``RatingFrame``: the customer's ratings.)
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

MAX_CLIENT_MSG_ID = 64
MAX_TEXT = 2000
MAX_FEEDBACK_COMMENT = 500
MAX_RATING_COMMENT = 1000
Frame = dict[str, Any]


class FrameError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _ClientFrame(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class HelloFrame(_ClientFrame):
    type: Literal["hello"]
    token: str | None = Field(default=None, max_length=8192)
    session_id: str | None = Field(default=None, min_length=1, max_length=64)
    last_seq: int | None = Field(default=None, ge=0)


class MessageFrame(_ClientFrame):
    type: Literal["message"]
    client_msg_id: str = Field(min_length=1, max_length=MAX_CLIENT_MSG_ID)
    text: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT)
    payload: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT)

    @model_validator(mode="after")
    def _exactly_one_of_text_or_payload(self) -> MessageFrame:
        if (self.text is None) == (self.payload is None):
            raise ValueError("exactly one of text or payload is required")
        return self

    @property
    def content(self) -> str:
        """What Rasa receives: the text, or the button payload (e.g. ``/affirm``)."""
        return self.text if self.text is not None else str(self.payload)


class PingFrame(_ClientFrame):
    type: Literal["ping"]


class FeedbackFrame(_ClientFrame):
    """The customer's rating of one ``bot`` frame (a later one for the seq replaces it)."""

    type: Literal["feedback"]
    seq: int = Field(ge=1, strict=True)
    value: Literal["up", "down"]
    comment: str | None = Field(default=None, max_length=MAX_FEEDBACK_COMMENT)


class RatingFrame(_ClientFrame):
    """The customer's rating of the whole conversation."""

    type: Literal["rating"]
    score: int = Field(ge=1, le=5, strict=True)
    comment: str | None = Field(default=None, max_length=MAX_RATING_COMMENT)


ClientFrame = HelloFrame | MessageFrame | PingFrame | FeedbackFrame | RatingFrame
_adapter: TypeAdapter[ClientFrame] = TypeAdapter(
    Annotated[ClientFrame, Field(discriminator="type")]
)


def parse_client_frame(text: str, max_bytes: int) -> ClientFrame:
    if len(text.encode()) > max_bytes:
        raise FrameError("too_large", f"frames are limited to {max_bytes} bytes")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise FrameError("bad_request", "frame is not valid JSON") from exc
    except RecursionError as exc:  # "[[[[…" a few thousand deep: refused, not a crash
        raise FrameError("bad_request", "frame is nested too deeply") from exc
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise FrameError("bad_request", "frame must be a JSON object with a string 'type'")
    for name in ("text", "payload"):
        value = data.get(name)
        if isinstance(value, str) and len(value) > MAX_TEXT:
            raise FrameError("too_large", f"'{name}' is limited to {MAX_TEXT} characters")
    try:
        return _adapter.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise FrameError("bad_request", f"invalid frame: {where}: {first.get('msg')}") from exc


# --- server frames -------------------------------------------------------------------


def welcome(session_id: str, resumed: bool, user: str | None) -> Frame:
    return {"type": "welcome", "session_id": session_id, "resumed": resumed, "user": user}


def ack(client_msg_id: str, seq: int) -> Frame:
    return {"type": "ack", "client_msg_id": client_msg_id, "seq": seq}


def typing(on: bool) -> Frame:
    return {"type": "typing", "state": "on" if on else "off"}


def error(code: str, message: str, client_msg_id: str | None = None) -> Frame:
    frame: Frame = {"type": "error", "code": code, "message": message}
    if client_msg_id is not None:
        frame["client_msg_id"] = client_msg_id
    return frame


def pong() -> Frame:
    return {"type": "pong"}


def handoff(seq: int, state: str) -> Frame:
    return {"type": "handoff", "seq": seq, "state": state}


def agent(seq: int, text: str, agent_name: str) -> Frame:
    return {"type": "agent", "seq": seq, "text": text, "agent": agent_name}


def user(seq: int, client_msg_id: str, text: str) -> Frame:
    """The customer's own turn as stored (masked), re-sent on resume."""
    return {"type": "user", "seq": seq, "client_msg_id": client_msg_id, "text": text}


def bot(seq: int, reply_to: str, response: dict[str, Any]) -> Frame:
    """One Rasa REST response -> one ``bot`` frame (optional fields only when present)."""
    frame: Frame = {
        "type": "bot",
        "seq": seq,
        "reply_to": reply_to,
        "text": response.get("text") or "",
    }
    buttons = response.get("buttons")
    if isinstance(buttons, list) and buttons:
        frame["buttons"] = [
            {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
            for b in buttons
            if isinstance(b, dict)
        ]
    for key in ("image", "custom"):
        if response.get(key) is not None:
            frame[key] = response[key]
    return frame
