"""The conversation mechanics every task form shares, driven by the task registry.

`bot/tasks.yml` lists the forms (the intent that starts each, its submit and cancel
actions), the one-step tasks a customer may switch to, and the questions answered
inside a form. This policy turns that list into behaviour, for every form alike:

- **start**: a task's intent forgets any half-finished task's slots, then opens its form;
- **submit**: a form that completes runs its submit action;
- **cancel**: a cancel (in any phrasing the NLU knows) inside a form closes it and runs
  the form's cancel action, which says so and forgets its slots;
- **digression and resume**: a question the form refused as an answer (a balance, a
  support topic, "are you a bot?") is answered, then the form asks its question again;
- **switch**: another task's intent inside a form ends the form and starts that task;
- **offer**: a typed "yes" after a support answer that offers a task with a button runs
  the task of its first such button;
- **repeat**: "do the same again" runs the `repeat` action of the form done last (its
  submit ran last), which fills that form in again and opens it at its summary.

It replaces ~700 rules that a generator wrote for every (form, intent) pair. Like those
rules, it acts inside a form only once the form has *refused* the message as an answer
(Rasa runs the active form first; the validators in actions/ decide what an answer is),
so "Tom" stays a payee name and "send 50 to savings" stays an answer to the transfer
form. Its predictions have confidence 1.0 and a priority above RulePolicy's, so the
hand-written rules (bot/data/) keep everything the registry does not cover.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_DEACTIVATE_LOOP_NAME, ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    LoopInterrupted,
    UserUttered,
)
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

RESET_TASK = "action_reset_task_slots"
REGISTRY_FILE = "registry.json"


def registry_files(path: Path) -> list[Path]:
    """The registry and the support domain it names: what the policy is trained from."""
    raw = yaml.safe_load(path.read_text())
    support_file = Path(raw["support_domain"])
    if not support_file.is_absolute():
        support_file = path.parent.parent / support_file
    return [path, support_file]


def load_registry(path: Path) -> dict[str, Any]:
    """The registry as the policy uses it: forms, switches, every answer (support
    topics included) and the offered task of each support answer that offers one.

    The offers are read from the support domain file itself: the domain Rasa hands a
    policy at training has no response texts or buttons."""
    raw = yaml.safe_load(path.read_text())
    support = yaml.safe_load(registry_files(path)[1].read_text())
    topics = list(support["intents"])
    switches = {**raw["one_step_tasks"], **raw["leaving_words"]}
    answered = {**raw["tasks_answered_inside_a_form"], **raw["questions"]}
    answers = {**answered, **{topic: f"utter_{topic}" for topic in topics}}
    offerable = {**answered, **switches}
    responses = support["responses"]
    offers: dict[str, str] = {}
    for topic in topics:
        for variation in responses.get(f"utter_{topic}", []):
            for button in variation.get("buttons", []):
                intent = str(button.get("payload", "")).lstrip("/").split("{")[0]
                if intent in offerable:
                    offers.setdefault(f"utter_{topic}", offerable[intent])
    forms = {
        name: {
            "start": spec.get("start"),
            "submit": spec["submit"],
            "cancel": spec["cancel"],
            "cancel_intents": list(spec.get("cancel_intents", ["cancel"])),
            "repeat": spec.get("repeat"),
        }
        for name, spec in raw["forms"].items()
    }
    repeat = raw.get("repeat") or {}
    return {
        "forms": forms,
        "switches": switches,
        "answers": answers,
        "offers": offers,
        "repeat": {"intent": repeat.get("intent"), "nothing": repeat.get("nothing")},
    }


class TaskMechanics:
    """The decision, apart from Rasa's plumbing: given what happened since the customer's
    latest message, the next action (None: not ours to decide)."""

    def __init__(self, registry: Mapping[str, Any]) -> None:
        self.forms: dict[str, dict[str, Any]] = dict(registry["forms"])
        self.switches: dict[str, str] = dict(registry["switches"])
        self.answers: dict[str, str] = dict(registry["answers"])
        self.offers: dict[str, str] = dict(registry["offers"])
        self.starts = {spec["start"]: form for form, spec in self.forms.items() if spec["start"]}
        repeat = registry.get("repeat") or {}
        self.repeat_intent: str | None = repeat.get("intent")
        self.nothing_to_repeat: str | None = repeat.get("nothing")
        # submit action -> the repeat action of its form (None: that task is not repeated)
        self.repeats = {spec["submit"]: spec.get("repeat") for spec in self.forms.values()}

    def next_action(
        self,
        intent: str | None,
        done: Sequence[str],
        refused_by: str | None,
        active_loop: str | None,
        bot_action_before: str | None,
        last_submit: str | None = None,
    ) -> tuple[str, bool] | None:
        """(action, resumes_a_form) or None.

        `done`: the actions run since the customer's latest message; `refused_by`: the
        form that refused that message as an answer, if one did; `active_loop`: the form
        active now; `bot_action_before`: the bot's last action before the message;
        `last_submit`: the submit action run last before it (read for a repeat only)."""
        if done and done[-1] in {spec["submit"] for spec in self.forms.values()}:
            return (ACTION_LISTEN_NAME, False) if self._submitted(done) else None
        if done and done[-1] in self.forms and active_loop is None:
            return self.forms[done[-1]]["submit"], False  # the form completed
        if intent is None:
            return None
        if refused_by in self.forms:
            return self._inside_a_form(intent, list(done), refused_by, active_loop)
        if active_loop is not None:
            return None  # the active form has not judged the message yet
        if intent == self.repeat_intent and self.nothing_to_repeat:
            action = self.repeats.get(last_submit or "") or self.nothing_to_repeat
            # The repeat action opens the form itself (FollowupAction) when it can.
            return (action, False) if not done else self._listen_after(done, action)
        return self._outside_a_form(intent, list(done), bot_action_before)

    def _submitted(self, done: Sequence[str]) -> bool:
        return len(done) >= 2 and self.forms.get(done[-2], {}).get("submit") == done[-1]

    def _inside_a_form(
        self, intent: str, done: list[str], form: str, active_loop: str | None
    ) -> tuple[str, bool] | None:
        spec = self.forms[form]
        other_form = self.starts.get(intent)
        cancels = intent in spec["cancel_intents"]
        leaves = cancels or intent in self.switches or (other_form not in (None, form))
        if not done:
            if leaves:
                return ACTION_DEACTIVATE_LOOP_NAME, False
            if intent in self.answers:
                return self.answers[intent], False
            return None
        if done == [self.answers.get(intent)] and active_loop == form:
            return form, True  # the question was answered: the form asks again
        if done[0] != ACTION_DEACTIVATE_LOOP_NAME or not leaves:
            return None
        if cancels:
            if len(done) == 1:
                return spec["cancel"], False
            return self._listen_after(done, spec["cancel"])
        if len(done) == 1:
            return RESET_TASK, False
        if len(done) == 2 and done[1] == RESET_TASK:
            return (other_form, False) if other_form else (self.switches[intent], False)
        if other_form is None:
            return self._listen_after(done, self.switches[intent])
        return None

    def _outside_a_form(
        self, intent: str, done: list[str], bot_action_before: str | None
    ) -> tuple[str, bool] | None:
        form = self.starts.get(intent)
        if form is not None:
            if not done:
                return RESET_TASK, False
            if done == [RESET_TASK]:
                return form, False
            return None
        offered = self.offers.get(bot_action_before or "") if intent == "affirm" else None
        if offered is None:
            return None
        return (offered, False) if not done else self._listen_after(done, offered)

    @staticmethod
    def _listen_after(done: Sequence[str], last: str) -> tuple[str, bool] | None:
        return (ACTION_LISTEN_NAME, False) if done[-1] == last else None


def conversation_since_message(
    tracker: DialogueStateTracker,
) -> tuple[list[str], str | None, str | None]:
    """The actions run since the latest user message, the form that refused it, and the
    bot's last action (other than listening) before it."""
    done: list[str] = []
    refused_by: str | None = None
    events = list(tracker.events)
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if isinstance(event, UserUttered):
            return list(reversed(done)), refused_by, _bot_action_before(events[:index])
        if isinstance(event, ActionExecutionRejected):
            refused_by = event.action_name
        elif isinstance(event, ActionExecuted) and event.action_name:
            done.append(event.action_name)
    return [], None, None


def last_action_among(tracker: DialogueStateTracker, names: set[str]) -> str | None:
    """The most recent of these actions the conversation ran."""
    for event in reversed(tracker.events):
        if isinstance(event, ActionExecuted) and event.action_name in names:
            return event.action_name
    return None


def _bot_action_before(events: Sequence[Any]) -> str | None:
    for event in reversed(events):
        if isinstance(event, ActionExecuted) and event.action_name != ACTION_LISTEN_NAME:
            return event.action_name
        if isinstance(event, UserUttered):
            return None
    return None


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class TaskPolicy(Policy):
    """Configured with `registry: bot/tasks.yml` (relative to the training's working
    directory); the registry is read at training and stored in the model."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"priority": 7, "registry": "bot/tasks.yml"}

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """The registry's files are no graph input: without this, Rasa's training cache
        would reuse a policy trained on an older registry.

        None for a policy Rasa restores from that cache: its training hook then passes
        the config of the node that replaced it (`{"output": …}`, no registry), and a
        retraining that changed only the NLU data failed here with a KeyError."""
        if "registry" not in config:
            return None
        digest = hashlib.sha256()
        for path in registry_files(Path(config["registry"])):
            digest.update(path.read_bytes())
        return digest.hexdigest()

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        registry: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(config, model_storage, resource, execution_context)
        self.registry = dict(registry or {})
        self.mechanics = TaskMechanics(self.registry) if registry else None

    def train(
        self,
        training_trackers: list[TrackerWithCachedStates],
        domain: Domain,
        **kwargs: Any,
    ) -> Resource:
        self.registry = load_registry(Path(self.config["registry"]))
        self.mechanics = TaskMechanics(self.registry)
        with self._model_storage.write_to(self._resource) as directory:
            (directory / REGISTRY_FILE).write_text(json.dumps(self.registry, sort_keys=True))
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> TaskPolicy:
        with model_storage.read_from(resource) as directory:
            registry = json.loads((directory / REGISTRY_FILE).read_text())
        return cls(config, model_storage, resource, execution_context, registry=registry)

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        decision = None
        if self.mechanics is not None:
            done, refused_by, bot_action_before = conversation_since_message(tracker)
            latest = tracker.latest_message
            intent = (latest.intent or {}).get("name") if latest is not None else None
            mechanics = self.mechanics
            last_submit = (
                last_action_among(tracker, set(mechanics.repeats))
                if intent == mechanics.repeat_intent
                else None
            )
            decision = mechanics.next_action(
                intent, done, refused_by, tracker.active_loop_name, bot_action_before, last_submit
            )
        if decision is None or decision[0] not in domain.action_names_or_texts:
            return self._prediction(self._default_predictions(domain))
        action, resumes = decision
        probabilities = self._default_predictions(domain)
        probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities, events=[LoopInterrupted(True)] if resumes else [])
