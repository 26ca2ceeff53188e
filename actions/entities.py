"""Reading the NLU's entities (bot/components/entity_rules.py) off the latest message,
and the entities of an offer a typed "yes" accepts."""

import json
from typing import Any

from rasa_sdk import Tracker

# The `account_type` entity's values, as a reply names them ("your savings account").
ACCOUNT_LABELS = {"checking": "checking account", "savings": "savings account"}


def entities(tracker: Tracker, name: str) -> list[dict[str, Any]]:
    return [e for e in tracker.latest_message.get("entities") or [] if e.get("entity") == name]


def entity_value(tracker: Tracker, name: str, role: str | None = None) -> Any:
    """The first value of entity `name` (with `role`, if given) in the latest message."""
    for entity in entities(tracker, name):
        if role is None or entity.get("role") == role:
            return entity.get("value")
    return None


def offered_entities(tracker: Tracker, intent: str) -> dict[str, Any]:
    """The entities of the button a typed "yes" accepted, when it starts `intent`.

    A support answer's first button is taken by a typed "yes" (the task policy,
    bot/components/task_policy.py, runs the button's action), but the button's entities
    ('/search_transactions{"direction": "in"}') are not in that message: they are read
    from the bot's last message here. Empty when the message is no "yes" to such a button.
    """
    if (tracker.latest_message.get("intent") or {}).get("name") != "affirm":
        return {}
    bots = [e for e in tracker.events if e.get("event") == "bot"]
    buttons = ((bots[-1].get("data") or {}).get("buttons") or []) if bots else []
    payload = str(buttons[0].get("payload", "")) if buttons else ""
    offered, _, entities = payload.lstrip("/").partition("{")
    if offered != intent or not entities:
        return {}
    try:
        values = json.loads("{" + entities)
    except ValueError:
        return {}
    return values if isinstance(values, dict) else {}
