"""A static contradiction check of the rules in bot/data, beside RulePolicy's own check at
training: two rules with the same conditions whose steps agree up to some point must not
go on with different bot actions there. (The form mechanics are no rules: bot/tasks.yml
and tests/bot/test_task_policy.py.)"""

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "bot" / "data"


def step_key(step: dict[str, Any]) -> tuple[str, str]:
    if "intent" in step:
        return ("intent", str(step["intent"]))
    if "action" in step:
        return ("action", str(step["action"]))
    if "active_loop" in step:
        return ("active_loop", str(step["active_loop"]))
    if "slot_was_set" in step:
        return ("slot_was_set", repr(step["slot_was_set"]))
    return ("other", repr(step))


def all_rules() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for path in sorted(DATA.glob("*.yml")):
        rules += (yaml.safe_load(path.read_text()) or {}).get("rules") or []
    return rules


def contradictions(rules: list[dict[str, Any]]) -> list[str]:
    """Rules as paths in a trie keyed by their conditions: after the same prefix, at most
    one bot action may follow (user intents may branch; actions before a rule's first
    user turn are context, not predictions, and may branch too)."""
    trie: dict[tuple[Any, ...], dict[tuple[str, str], str]] = {}
    found = []
    for rule in rules:
        condition = repr(rule.get("condition") or [])
        prefix: tuple[Any, ...] = (condition, rule.get("conversation_start", False))
        heard_user = False
        for step in rule.get("steps") or []:
            key = step_key(step)
            heard_user = heard_user or key[0] == "intent"
            children = trie.setdefault(prefix, {})
            if key[0] == "action" and heard_user:
                other = next((k for k in children if k[0] == "action" and k != key), None)
                if other is not None:
                    found.append(
                        f"{rule['rule']!r}: {key[1]} where {children[other]!r} has {other[1]}"
                    )
            children.setdefault(key, rule["rule"])
            prefix = (*prefix, key)
    return found


def test_no_two_rules_contradict() -> None:
    rules = all_rules()
    assert len(rules) > 90  # the support answers and the hand-written rules are there
    assert contradictions(rules) == []


def test_the_check_catches_a_contradiction() -> None:
    rules = [
        {"rule": "a", "steps": [{"intent": "greet"}, {"action": "utter_greet"}]},
        {"rule": "b", "steps": [{"intent": "greet"}, {"action": "utter_goodbye"}]},
        {
            "rule": "c",
            "condition": [{"active_loop": "f"}],
            "steps": [{"intent": "greet"}, {"action": "utter_goodbye"}],
        },
    ]
    assert contradictions(rules) == ["'b': utter_goodbye where 'a' has utter_greet"]
