"""The texts the NLU evaluation works on, in one place for `make eval-nlu`
(scripts/eval_nlu.py), the held-out accuracy check of `make test`
(scripts/check_nlu_accuracy.py) and bench/nlu_encoders.py.

- BANKING77: the fixed, stratified 20 % held-out split of the training CSV (`split_rows`);
- the project's own intents: every nlu_data/*.yml except banking77.yml;
- off-domain texts (tests/nlu/off_domain.txt, written for this project): every other text
  of each topic tunes the rejection, the rest only evaluates it (`off_domain_halves`).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from scripts.banking77_to_rasa import normalise

ROOT = Path(__file__).resolve().parent.parent
NLU_DATA = ROOT / "nlu_data"
OFF_DOMAIN = ROOT / "tests" / "nlu" / "off_domain.txt"
HELDOUT_FRACTION = 0.2
SEED = 20201  # fixed: the split must be the same on every run and machine


def split_rows(rows: list[tuple[str, str]]) -> tuple[list[int], list[int]]:
    from sklearn.model_selection import train_test_split

    indices = list(range(len(rows)))
    labels = [category for _, category in rows]
    train, heldout = train_test_split(
        indices, test_size=HELDOUT_FRACTION, stratify=labels, random_state=SEED
    )
    return sorted(train), sorted(heldout)


def read_nlu_yaml(path: Path) -> list[tuple[str, str]]:
    """(text, intent) pairs of a Rasa NLU file (the project's files carry no entity markup)."""
    pairs = []
    for block in yaml.safe_load(path.read_text()).get("nlu", []):
        if "intent" not in block:
            continue
        for line in block["examples"].splitlines():
            text = normalise(line.strip().removeprefix("- "))
            if text:
                pairs.append((text, str(block["intent"])))
    return pairs


def own_examples() -> list[tuple[str, str]]:
    """The project's own intents' training examples (everything but BANKING77)."""
    pairs = []
    for path in sorted(NLU_DATA.glob("*.yml")):
        if path.name != "banking77.yml":
            pairs += read_nlu_yaml(path)
    return pairs


def off_domain_topics(path: Path = OFF_DOMAIN) -> dict[str, list[str]]:
    """Texts by topic: a `# topic` line starts one; blank lines are skipped."""
    topics: dict[str, list[str]] = {}
    current = "untitled"
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("#"):
            current = line.lstrip("# ").strip()
        elif line:
            topics.setdefault(current, []).append(normalise(line))
    return topics


def off_domain_halves(path: Path = OFF_DOMAIN) -> tuple[list[str], list[str]]:
    """(tuning, evaluation): alternate texts of every topic, so both halves cover all."""
    tuning, evaluation = [], []
    for texts in off_domain_topics(path).values():
        tuning += texts[0::2]
        evaluation += texts[1::2]
    return tuning, evaluation
