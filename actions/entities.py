"""Reading the NLU's entities (bot/components/entity_rules.py) off the latest message."""

from typing import Any

from rasa_sdk import Tracker


def entities(tracker: Tracker, name: str) -> list[dict[str, Any]]:
    return [e for e in tracker.latest_message.get("entities") or [] if e.get("entity") == name]


def entity_value(tracker: Tracker, name: str, role: str | None = None) -> Any:
    """The first value of entity `name` (with `role`, if given) in the latest message."""
    for entity in entities(tracker, name):
        if role is None or entity.get("role") == role:
            return entity.get("value")
    return None
