"""Export and training-data formats (pure): JSON lines, CSV, Rasa NLU YAML."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

CSV_COLUMNS = (
    "session_id",
    "turn_id",
    "created_at",
    "customer_id",
    "customer_username",
    "kind",
    "user_text",
    "reply_text",
    "intent",
    "confidence",
    "label",
    "fallback",
    "handoff",
    "feedback",
)
# Spreadsheet apps run a cell starting with these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_YAML_WORDS = frozenset({"yes", "no", "true", "false", "on", "off", "null", "y", "n"})


def jsonl_line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, default=str) + "\n"


def csv_text(rows: Iterable[dict[str, Any]], header: bool) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in CSV_COLUMNS])
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = ";".join(str(v) for v in value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def nlu_yaml(examples: Iterable[tuple[str, str]]) -> str:
    """Rasa NLU training data (format 3.1): one ``intent`` entry per label with its
    distinct examples, in the order given. Each example is one line of a literal
    block, so only line breaks need care (they become spaces)."""
    by_intent: dict[str, dict[str, None]] = {}
    for intent, text in examples:
        line = " ".join(text.split())
        if line:
            by_intent.setdefault(intent, {})[line] = None
    if not by_intent:
        return 'version: "3.1"\nnlu: []\n'
    lines = ['version: "3.1"', "nlu:"]
    for intent, texts in by_intent.items():
        # A name YAML would read as a number or bool ("123", "yes") is quoted.
        name = (
            intent
            if intent[:1].isalpha() and intent.lower() not in _YAML_WORDS
            else json.dumps(intent)
        )
        lines += [f"- intent: {name}", "  examples: |"]
        lines += [f"    - {text}" for text in texts]
    return "\n".join(lines) + "\n"
