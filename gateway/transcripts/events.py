"""What a transcript keeps of one Rasa event from the event broker (pure).

Rasa's Pika broker publishes every new tracker event as a JSON object: the event's
``as_dict()`` plus ``sender_id`` (the gateway's session id). Callers may rely on:

- ``event_id(body)``: a stable id for the event, the SHA-256 of its canonical JSON.
  A redelivered message (the consumer died before its ack) carries the same bytes, so
  it gets the same id and its insert is a no-op. Two distinct events never share one:
  Rasa stamps each with its own ``timestamp`` (microseconds) and the sender.
- ``record_of(body)``: the row to store, or None for events a transcript does not need
  (slots, forms, session starts …). Only ``user``, ``bot`` and ``action`` events are
  kept, and of them only what staff may see: the user's text is what Rasa saw, which
  the gateway masked before sending; a bot utterance is redacted like a stored reply
  (``pii.redact_reply``); of the message metadata only ``client_msg_id`` is kept —
  the sealed credential, customer id and display name the gateway sends with every
  message never reach a transcript.
- ``turn_nlu(events, client_msg_id)``: a turn's NLU fields from the session's stored
  events in order, as the staff console shows them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from gateway.chat.pii import redact_reply

KEPT = frozenset({"user", "bot", "action"})
FALLBACK_ACTIONS = frozenset({"action_default_fallback", "action_two_stage_fallback"})
NO_NLU: dict[str, Any] = {
    "intent": None,
    "confidence": None,
    "entities": [],
    "actions": [],
    "fallback": False,
}


class BadEvent(ValueError):
    """A broker message that is not a Rasa event (dropped, with a log line)."""


def decode(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadEvent(f"not JSON: {exc}") from exc
    if not isinstance(body, dict) or not isinstance(body.get("sender_id"), str):
        raise BadEvent("not a Rasa event (no sender_id)")
    if not isinstance(body.get("event"), str):
        raise BadEvent("not a Rasa event (no event type)")
    return body


def event_id(body: Mapping[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def record_of(body: Mapping[str, Any]) -> dict[str, Any] | None:
    kind = body["event"]
    if kind not in KEPT:
        return None
    record: dict[str, Any] = {
        "event_id": event_id(body),
        "session_id": str(body["sender_id"])[:64],
        "kind": kind,
        "at": float(body.get("timestamp") or 0.0),
        "name": None,
        "text": None,
        "data": {},
    }
    if kind == "action":
        record["name"] = str(body.get("name") or "")[:200]
    elif kind == "bot":
        text = body.get("text")
        record["text"] = redact_reply(text) if isinstance(text, str) else None
    else:
        record.update(_user(body))
    return record


def _user(body: Mapping[str, Any]) -> dict[str, Any]:
    parse = body.get("parse_data") or {}
    intent = parse.get("intent") or {}
    name = intent.get("name")
    selector = (parse.get("response_selector") or {}).get(name) or {}
    full = (selector.get("response") or {}).get("intent_response_key")
    confidence = intent.get("confidence")
    metadata = body.get("metadata") or {}
    cmid = metadata.get("client_msg_id") if isinstance(metadata, dict) else None
    entities = [
        {k: e.get(k) for k in ("entity", "value", "start", "end")}
        for e in parse.get("entities") or []
        if isinstance(e, dict)
    ]
    text = body.get("text")
    label = full or name
    return {
        "name": str(label)[:200] if label else None,
        "text": text if isinstance(text, str) else None,
        "data": {
            "client_msg_id": cmid if isinstance(cmid, str) else None,
            "intent": name,
            "confidence": float(confidence) if confidence is not None else None,
            "entities": entities,
        },
    }


def turn_nlu(events: Sequence[Mapping[str, Any]], client_msg_id: str) -> dict[str, Any] | None:
    """The NLU of the turn whose user event carries ``client_msg_id`` (the first such
    event), with the actions run until the next user event (``action_listen`` left
    out); None when that user event has not arrived (yet)."""
    start = next(
        (
            i
            for i, e in enumerate(events)
            if e["kind"] == "user" and (e["data"] or {}).get("client_msg_id") == client_msg_id
        ),
        None,
    )
    if start is None:
        return None
    user = events[start]
    actions = []
    for event in events[start + 1 :]:
        if event["kind"] == "user":
            break
        if event["kind"] == "action" and event["name"] != "action_listen":
            actions.append(str(event["name"]))
    data = user["data"] or {}
    return {
        "intent": user["name"],
        "confidence": data.get("confidence"),
        "entities": list(data.get("entities") or []),
        "actions": actions,
        "fallback": data.get("intent") == "nlu_fallback" or bool(FALLBACK_ACTIONS & set(actions)),
    }
