"""The held-out accuracy check of `make test` (`make check-nlu`), and the 5-fold
cross-validation printed by `make eval-nlu`, on the intent classifier alone.

Both fit the classifier exactly as the Rasa component does (bot/config.yml's settings,
`train_model` of bot/components/intent_classifier.py) on BANKING77 texts plus the
project's own intents, from cached embeddings (bot/components/embedding_cache.py; `make
train` fills the cache, so in `make test` this costs one SVM fit, ~1 min). The check
fails when the accuracy on the fixed held-out split of `make eval-nlu` is more than
`TOLERANCE` below the figure recorded in tests/nlu/recorded_accuracy.json (written by
`make eval-nlu RECORD=1`).

    .venv-rasa/bin/python scripts/check_nlu_accuracy.py
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.banking77_to_rasa import DEFAULT_CSV, group_examples, read_rows  # noqa: E402
from scripts.nlu_sets import own_examples, split_rows  # noqa: E402

RECORDED = ROOT / "tests" / "nlu" / "recorded_accuracy.json"
TOLERANCE = 0.005  # half a percentage point
COMPONENT = "bot.components.intent_classifier.SentenceEmbeddingIntentClassifier"


def classifier_config() -> dict[str, Any]:
    from bot.components.intent_classifier import SentenceEmbeddingIntentClassifier

    pipeline = yaml.safe_load((ROOT / "bot" / "config.yml").read_text())["pipeline"]
    settings = next(c for c in pipeline if c["name"] == COMPONENT)
    config = SentenceEmbeddingIntentClassifier.get_default_config()
    config.update({k: v for k, v in settings.items() if k != "name"})
    config["embedding_cache"] = str(ROOT / "var" / "cache" / "embeddings")
    return config


def accuracy_without(rows: list[tuple[str, str]], test: list[int]) -> float:
    """Trains on every BANKING77 row not in `test` plus the own intents (as the Rasa
    training data of `make eval-nlu` holds them) and scores the rows in `test`."""
    from bot.components.intent_classifier import embed, normalise, train_model

    config = classifier_config()
    grouped = group_examples(rows, set(test))
    pairs = [(t, c) for c, texts in grouped.items() for t in texts] + own_examples()
    model = train_model(
        config, [normalise(t) for t, _ in pairs], [c for _, c in pairs], calibrate=False
    )
    texts = [normalise(rows[i][0]) for i in test]
    scores = model.scores(texts, embed(config, texts, cached=True))
    predicted = np.array(model.classes)[scores.argmax(axis=1)]
    return float(np.mean(predicted == np.array([rows[i][1] for i in test])))


def heldout_accuracy() -> float:
    rows = read_rows(DEFAULT_CSV)
    return accuracy_without(rows, split_rows(rows)[1])


def cross_validation(folds: int = 5) -> tuple[float, float]:
    """Mean and standard deviation of the accuracy over stratified folds of BANKING77."""
    from sklearn.model_selection import StratifiedKFold

    rows = read_rows(DEFAULT_CSV)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=20201)
    scores = [
        accuracy_without(rows, sorted(test.tolist()))
        for _, test in splitter.split(np.zeros(len(rows)), [c for _, c in rows])
    ]
    return statistics.mean(scores), statistics.stdev(scores)


def main() -> None:
    recorded = json.loads(RECORDED.read_text())["banking77_heldout_accuracy"]
    accuracy = heldout_accuracy()
    print(f"BANKING77 held-out accuracy {accuracy:.4f} (recorded {recorded:.4f})")
    if accuracy < recorded - TOLERANCE:
        sys.exit(
            f"error: held-out accuracy {accuracy:.4f} is more than {TOLERANCE:.3f} below "
            f"the recorded {recorded:.4f} ({RECORDED.relative_to(ROOT)})"
        )


if __name__ == "__main__":
    main()
