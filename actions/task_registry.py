"""The task registry (bot/tasks.yml) as the form validators need it: which intent
starts which task. Rasa's policy reads the same file (bot/components/task_policy.py),
so the list of tasks is written once; the action server's image carries a copy of the
file (docker/actions.Dockerfile) and TASK_REGISTRY_PATH points elsewhere if needed."""

from functools import lru_cache
from pathlib import Path

import yaml

from actions.settings import get_settings


@lru_cache(maxsize=1)
def task_forms() -> dict[str, str | None]:
    """Intent -> the form its task fills (None: a one-step task). Said confidently
    inside another task's form, such an intent is a switch to that task, not an answer
    to the question asked; inside its own form ("send 50 to savings" while the transfer
    form asks) it is an answer."""
    registry = yaml.safe_load(Path(get_settings().task_registry_path).read_text())
    forms: dict[str, str | None] = {
        spec["start"]: name for name, spec in registry["forms"].items() if spec.get("start")
    }
    for section in ("one_step_tasks", "tasks_answered_inside_a_form"):
        forms.update({intent: None for intent in registry[section]})
    return forms
