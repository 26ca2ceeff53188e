"""The action server's typed client against what core_banking really answers and takes.

actions/core_banking_api/models.py mirrors core_banking's schemas with pydantic 1 (Rasa's
pin); the services share no code, so this test reads that file as text (`ast`) and
checks it against core_banking's OpenAPI: every field an answer model reads exists,
and the model accepts every type the API may send there (null included); every field a
request model sends is one the API takes, of a type it takes, and every field the API
requires is always sent. It also checks that the answer tables
(`AnswerTable(problems={...})` in actions/) name only problem kinds core_banking can
send, and that `Problem` reads only members core_banking renders. Renaming a field on
either side makes this test fail.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import core_banking.app
from core_banking.problems import Problem

ROOT = Path(__file__).resolve().parents[2]
ACTIONS = ROOT / "actions"
MODELS = ACTIONS / "core_banking_api" / "models.py"
REF = "#/components/schemas/"
# Members every problem has (core_banking.problems.render); others come as `extra=`.
RFC_MEMBERS = {"type", "title", "status", "detail", "instance"}
# Models that mirror no OpenAPI schema: the base class, and problem+json (not in it).
NOT_IN_OPENAPI = {"Model", "Problem"}
SCALARS: dict[str, dict[str, str]] = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "StrictInt": {"type": "integer"},
    "bool": {"type": "boolean"},
    "float": {"type": "number"},
    "datetime": {"type": "string", "format": "date-time"},
    "date": {"type": "string", "format": "date"},
}


@dataclass(frozen=True)
class ModelField:
    model: str
    name: str
    annotation: ast.expr
    has_default: bool


def _module(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def actions_models() -> dict[str, list[ModelField]]:
    """Each class of the actions' models file, with its annotated fields (its own and
    those of the models it extends)."""
    models: dict[str, list[ModelField]] = {}
    for node in _module(MODELS).body:
        if isinstance(node, ast.ClassDef):
            inherited = [
                field
                for base in node.bases
                if isinstance(base, ast.Name)
                for field in models.get(base.id, [])
            ]
            models[node.name] = inherited + [
                ModelField(node.name, stmt.target.id, stmt.annotation, stmt.value is not None)
                for stmt in node.body
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
            ]
    return models


def _mapping(name: str) -> dict[str, str]:
    for node in _module(MODELS).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            value = ast.literal_eval(node.value)
            assert isinstance(value, dict)
            return {str(k): str(v) for k, v in value.items()}
    raise AssertionError(f"no {name} in {MODELS}")


def schema_names() -> dict[str, str]:
    """`OPENAPI_SCHEMAS` of the models file: answer model -> core_banking schema."""
    return _mapping("OPENAPI_SCHEMAS")


def request_names() -> dict[str, str]:
    """`OPENAPI_REQUESTS` of the models file: request model -> core_banking schema."""
    return _mapping("OPENAPI_REQUESTS")


def accepted(annotation: ast.expr, names: dict[str, str]) -> list[dict[str, Any]]:
    """The JSON schemas an actions field's annotation accepts, one per alternative."""
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        return accepted(annotation.left, names) + accepted(annotation.right, names)
    if isinstance(annotation, ast.Constant) and annotation.value is None:
        return [{"type": "null"}]
    if isinstance(annotation, ast.Subscript) and isinstance(annotation.value, ast.Name):
        if annotation.value.id == "Literal":
            values = ast.literal_eval(annotation.slice)
            return [{"type": "string", "enum": list(values)}]
        inner = accepted(annotation.slice, names)
        if annotation.value.id == "list":
            return [{"type": "array", "items": inner}]
        if annotation.value.id == "Optional":
            return [*inner, {"type": "null"}]
    if isinstance(annotation, ast.Name):
        if annotation.id in SCALARS:
            return [SCALARS[annotation.id]]
        if annotation.id in names:
            return [{"$ref": REF + names[annotation.id]}]
    raise AssertionError(f"annotation the contract test cannot read: {ast.unparse(annotation)}")


def alternatives(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The types an OpenAPI schema allows, one per alternative."""
    for combined in ("anyOf", "oneOf"):
        if combined in schema:
            return [a for s in schema[combined] for a in alternatives(s)]
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return alternatives(schema["allOf"][0])
    if isinstance(schema.get("type"), list):
        return [{**schema, "type": t} for t in schema["type"]]
    return [schema]


def accepts(receiver: dict[str, Any], value: dict[str, Any]) -> bool:
    """Whether a value of type `value` parses into type `receiver` (the model's type for
    an answer, the API's for a request)."""
    if "$ref" in receiver or "$ref" in value:
        return receiver.get("$ref") == value.get("$ref")
    if receiver.get("type") != value.get("type"):
        return receiver.get("type") == "number" and value.get("type") == "integer"
    if "format" in receiver and value.get("format") != receiver["format"]:
        return False  # a datetime field needs a date-time string
    if "enum" in receiver and not set(value.get("enum", [None])) <= set(receiver["enum"]):
        return False
    if receiver["type"] == "array":
        items = value.get("items", {})
        items_given = items if isinstance(items, list) else alternatives(items)
        items_taken = receiver["items"]
        if not isinstance(items_taken, list):
            items_taken = alternatives(items_taken)
        return all(any(accepts(r, v) for r in items_taken) for v in items_given)
    return True


def mismatches(field: ModelField, schema: dict[str, Any], names: dict[str, str]) -> list[str]:
    where = f"{field.model}.{field.name}"
    properties = schema.get("properties", {})
    if field.name not in properties:
        return [f"{where}: core_banking's schema has no field {field.name!r}"]
    wanted = accepted(field.annotation, names)
    sent = alternatives(properties[field.name])
    problems = [
        f"{where}: core_banking may send {a}, which {ast.unparse(field.annotation)} refuses"
        for a in sent
        if not any(accepts(m, a) for m in wanted)
    ]
    may_be_missing = field.has_default or any(m.get("type") == "null" for m in wanted)
    if not may_be_missing and field.name not in schema.get("required", []):
        problems.append(f"{where}: required here, optional in core_banking's schema")
    return problems


def request_mismatches(
    model: str, fields: list[ModelField], schema: dict[str, Any], names: dict[str, str]
) -> list[str]:
    """What core_banking would refuse in a request the model makes (the client sends no
    None field, so null is never sent)."""
    properties = schema.get("properties", {})
    problems = []
    for field in fields:
        where = f"{model}.{field.name}"
        if field.name not in properties:
            problems.append(f"{where}: core_banking's schema takes no field {field.name!r}")
            continue
        taken = alternatives(properties[field.name])
        problems += [
            f"{where}: sends {m}, which core_banking's {properties[field.name]} refuses"
            for m in accepted(field.annotation, names)
            if m.get("type") != "null" and not any(accepts(a, m) for a in taken)
        ]
    always_sent = {
        f.name
        for f in fields
        if not f.has_default and all(m.get("type") != "null" for m in accepted(f.annotation, names))
    }
    problems += [
        f"{model}: core_banking requires {name!r}, which it may not send"
        for name in set(schema.get("required", [])) - always_sent
    ]
    return problems


@pytest.fixture(scope="module")
def openapi_schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = core_banking.app.app.openapi()["components"]["schemas"]
    return schemas


def test_every_actions_model_mirrors_a_schema(openapi_schemas: dict[str, Any]) -> None:
    names = {**schema_names(), **request_names()}
    unchecked = set(actions_models()) - NOT_IN_OPENAPI - set(names)
    assert not unchecked, f"models that mirror no schema are not checked: {unchecked}"
    missing = {n: s for n, s in names.items() if s not in openapi_schemas}
    assert not missing, f"schemas core_banking does not have: {missing}"


def test_every_field_the_actions_read_is_in_core_banking_openapi(
    openapi_schemas: dict[str, Any],
) -> None:
    names = schema_names()
    found = [
        mismatch
        for model, fields in actions_models().items()
        if model in names
        for field in fields
        for mismatch in mismatches(field, openapi_schemas[names[model]], names)
    ]
    assert not found, "\n".join(found)


def test_every_request_the_actions_send_is_one_core_banking_takes(
    openapi_schemas: dict[str, Any],
) -> None:
    names, models = request_names(), actions_models()
    found = [
        mismatch
        for model, schema in names.items()
        for mismatch in request_mismatches(model, models[model], openapi_schemas[schema], names)
    ]
    assert not found, "\n".join(found)


def _problem_classes(cls: type[Problem] = Problem) -> Iterator[type[Problem]]:
    yield cls
    for sub in cls.__subclasses__():
        yield from _problem_classes(sub)


def _answer_table_keys() -> list[tuple[str, object]]:
    """(file, key) for each key of `problems={...}` in an `AnswerTable(...)` in actions/."""
    keys: list[tuple[str, object]] = []
    for path in sorted(ACTIONS.rglob("*.py")):
        for node in ast.walk(_module(path)):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "AnswerTable"
            ):
                continue
            for keyword in node.keywords:
                if keyword.arg == "problems" and isinstance(keyword.value, ast.Dict):
                    for key in keyword.value.keys:
                        assert isinstance(key, ast.Constant), f"{path}: a computed table key"
                        keys.append((path.name, key.value))
    return keys


def test_answer_tables_name_only_problems_core_banking_sends() -> None:
    classes = list(_problem_classes())  # core_banking.app has imported every domain
    kinds = {cls.slug for cls in classes}
    statuses = {cls.status for cls in classes}
    keys = _answer_table_keys()
    assert len(keys) >= 10, "the answer tables were not found"
    unknown = [
        (file, key)
        for file, key in keys
        if key not in (kinds if isinstance(key, str) else statuses)
    ]
    assert not unknown, f"answer-table keys core_banking never sends: {unknown}"


def _extension_members() -> set[str]:
    """Every key of an `extra={...}` a core_banking problem is raised with."""
    members: set[str] = set()
    for path in (ROOT / "core_banking").rglob("*.py"):
        for node in ast.walk(_module(path)):
            if isinstance(node, ast.Call):
                for keyword in node.keywords:
                    if keyword.arg == "extra" and isinstance(keyword.value, ast.Dict):
                        members |= {
                            str(k.value) for k in keyword.value.keys if isinstance(k, ast.Constant)
                        }
    return members


def test_problem_reads_only_members_core_banking_renders() -> None:
    rendered = RFC_MEMBERS | _extension_members()
    read = {field.name for field in actions_models()["Problem"]}
    assert read - rendered == set(), "Problem fields core_banking never sends"
