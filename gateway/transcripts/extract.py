"""What one turn looked like inside Rasa, from its tracker events (pure).

Callers may rely on: ``nlu_details(events, client_msg_id, user_text)`` finds the
turn's ``user`` event (by the ``client_msg_id`` the gateway puts in every message's
metadata; failing that, the last user event with the same text) and returns
``intent`` (for a retrieval intent its full ``faq/<label>`` key), ``confidence``,
``entities`` ([{entity, value, start, end}]), ``actions`` (actions run until the next
user message, ``action_listen`` left out) and ``fallback`` (``nlu_fallback`` or a
fallback action). Every field is None / empty when the turn is not found.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

FALLBACK_ACTIONS = frozenset({"action_default_fallback", "action_two_stage_fallback"})


def _find_user_event(events: Sequence[dict[str, Any]], cmid: str, text: str) -> int | None:
    by_text = None
    for i, event in enumerate(events):
        if event.get("event") != "user":
            continue
        metadata = event.get("metadata") or {}
        if isinstance(metadata, dict) and metadata.get("client_msg_id") == cmid:
            return i
        if event.get("text") == text:
            by_text = i
    return by_text


def nlu_details(
    events: Sequence[dict[str, Any]], client_msg_id: str, user_text: str
) -> dict[str, Any]:
    found = _find_user_event(events, client_msg_id, user_text)
    if found is None:
        return {
            "intent": None,
            "confidence": None,
            "entities": [],
            "actions": [],
            "fallback": False,
        }
    parse = events[found].get("parse_data") or {}
    intent = parse.get("intent") or {}
    name = intent.get("name")
    selector = (parse.get("response_selector") or {}).get(name) or {}
    full = (selector.get("response") or {}).get("intent_response_key")
    actions = []
    for event in events[found + 1 :]:
        if event.get("event") == "user":
            break
        if event.get("event") == "action" and event.get("name") != "action_listen":
            actions.append(str(event.get("name")))
    entities = [
        {k: e.get(k) for k in ("entity", "value", "start", "end")}
        for e in parse.get("entities") or []
        if isinstance(e, dict)
    ]
    confidence = intent.get("confidence")
    return {
        "intent": full or name,
        "confidence": float(confidence) if confidence is not None else None,
        "entities": entities,
        "actions": actions,
        "fallback": name == "nlu_fallback" or bool(FALLBACK_ACTIONS & set(actions)),
    }
