"""Issue 15 on a loaded machine: all-mpnet-base-v2 could not encode all ~12,000 training
texts within the session (98 s per 200 texts with the machine's load near 15-45), so the
encoders are compared on a fixed sample: every other text of the held-out 20 % of `make eval-nlu`,
10-30 training texts per BANKING77 class, the `out_of_scope` training examples and
tests/nlu/off_domain.txt. MiniLM runs on the same sample, so the comparison is like for
like; the absolute accuracy is lower than with all the training data.

    flock /work/train.lock .venv-rasa/bin/python bench/nlu_sample.py encode   # mpnet, cached
    .venv-rasa/bin/python bench/nlu_sample.py compare 10 20   # training texts per class
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.components.embedding_cache import encode_cached
from bot.components.intent_classifier import LinearModel, normalise
from scripts.banking77_to_rasa import DEFAULT_CSV, read_rows
from scripts.nlu_sets import NLU_DATA, off_domain_halves, read_nlu_yaml, split_rows

OOS = "out_of_scope"


@dataclass
class Sample:
    rows: list[tuple[str, str]]
    heldout: list[int]
    by_class: dict[str, list[int]]  # training rows of each class, in a fixed random order
    oos: list[str]  # the out_of_scope training examples
    tune: list[str]
    eval: list[str]


def sample() -> Sample:
    rows = read_rows(DEFAULT_CSV)
    train, heldout = split_rows(rows)
    by_class: dict[str, list[int]] = {}
    for i in train:
        by_class.setdefault(rows[i][1], []).append(i)
    for indices in by_class.values():
        random.Random(15).shuffle(indices)  # noqa: S311 (a fixed sample, not a secret)
    oos_train = [t for t, _ in read_nlu_yaml(NLU_DATA / "out_of_scope.yml")]
    tune, evaluate = off_domain_halves()
    return Sample(rows, heldout, by_class, oos_train, tune, evaluate)


def encode(name: str) -> None:
    """Encodes in an order that makes the smallest comparison possible first."""
    s = sample()

    def train(low: int, high: int) -> list[str]:
        return [normalise(s.rows[i][0]) for idx in s.by_class.values() for i in idx[low:high]]

    stages = [
        ("train 0-10 per class", train(0, 10)),
        ("held-out, even rows", [normalise(s.rows[i][0]) for i in s.heldout[0::2]]),
        ("out_of_scope + off-domain", [normalise(t) for t in s.oos + s.tune + s.eval]),
        ("train 10-20 per class", train(10, 20)),
        ("train 20-30 per class", train(20, 30)),
    ]
    for label, texts in stages:
        started = time.monotonic()
        encode_cached(name, texts)
        elapsed = time.monotonic() - started
        print(f"{name}: {label}: {len(texts)} texts in {elapsed:.0f} s", flush=True)


def compare(per_class: int) -> None:
    s = sample()
    rows, by_class = s.rows, s.by_class
    train = [i for idx in by_class.values() for i in idx[:per_class]]
    texts = [normalise(rows[i][0]) for i in train] + [normalise(t) for t in s.oos]
    labels = [rows[i][1] for i in train] + [OOS] * len(s.oos)
    test = [normalise(rows[i][0]) for i in s.heldout[0::2]]  # 1,001 of the 2,001
    truth = np.array([rows[i][1] for i in s.heldout[0::2]])
    off = [normalise(t) for t in s.eval]
    setups = {
        "minilm+tfidf (before)": (["minilm"], 2.0, True),
        "minilm": (["minilm"], 1.0, False),
        "mpnet": (["mpnet"], 1.0, False),
        "mpnet+tfidf": (["mpnet"], 2.0, True),
        "mpnet+minilm": (["mpnet", "minilm"], 1.0, False),
        "mpnet+minilm+tfidf": (["mpnet", "minilm"], 2.0, True),
    }
    for name, (encoders, weight, tfidf) in setups.items():

        def emb(t: list[str], encoders: list[str] = encoders) -> np.ndarray:
            return np.hstack([encode_cached(e, t) for e in encoders])

        model = LinearModel(2.0, weight, tfidf)
        model.fit(texts, emb(texts), labels)
        classes = np.array(model.classes)
        accuracy = float(np.mean(classes[model.scores(test, emb(test)).argmax(1)] == truth))
        off_pred = classes[model.scores(off, emb(off)).argmax(1)]
        in_pred = classes[model.scores(test, emb(test)).argmax(1)]
        print(
            f"{per_class:3}/class {name:24} held-out {accuracy:.4f} "
            f"off-domain as out_of_scope {np.mean(off_pred == OOS):.3f} "
            f"banking as out_of_scope {np.mean(in_pred == OOS):.3f}",
            flush=True,
        )


if __name__ == "__main__":
    if sys.argv[1] == "encode":
        encode(sys.argv[2] if len(sys.argv) > 2 else "mpnet")
    else:
        for size in map(int, sys.argv[2:]):
            compare(size)
