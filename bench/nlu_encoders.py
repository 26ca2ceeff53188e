"""Compares encoder set-ups for the intent classifier outside Rasa, on cached embeddings
(bot/components/embedding_cache.py): the split of `make eval-nlu` (train on 80 % of
BANKING77 plus the project's own intents, test on the held-out 20 %), the task-intent set,
and the rejection of off-domain texts (tests/nlu/off_domain.txt: its tuning half picks the
threshold, its evaluation half measures it).

    flock /work/train.lock .venv-rasa/bin/python bench/nlu_encoders.py [--latency]

Encoding everything with all-mpnet-base-v2 the first time takes minutes on 2 cores (and
belongs under the training lock); later runs read the cache.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.components.embedding_cache import encode_cached
from bot.components.intent_classifier import LinearModel, normalise
from scripts.banking77_to_rasa import DEFAULT_CSV, read_rows
from scripts.nlu_sets import (
    ROOT,
    off_domain_halves,
    own_examples,
    read_nlu_yaml,
    split_rows,
)

OOS = "out_of_scope"


# name: (encoders, their weights, TF-IDF features or not, the SVM's C)
SETUPS: dict[str, tuple[list[str], list[float], bool, float]] = {
    "minilm+tfidf": (["minilm"], [2.0], True, 2.0),  # the pipeline before issue 15
    "mpnet": (["mpnet"], [1.0], False, 2.0),
    "mpnet+tfidf": (["mpnet"], [2.0], True, 2.0),
    "mpnet+minilm": (["mpnet", "minilm"], [1.0, 1.0], False, 2.0),
    "mpnet+minilm+tfidf": (["mpnet", "minilm"], [2.0, 2.0], True, 2.0),
    "mpnet+tfidf C=1": (["mpnet"], [2.0], True, 1.0),
    "mpnet+tfidf w=3": (["mpnet"], [3.0], True, 2.0),
}


def embed(encoders: list[str], weights: list[float], texts: list[str]) -> np.ndarray:
    parts = [encode_cached(name, texts) * w for name, w in zip(encoders, weights, strict=True)]
    return np.hstack(parts)


def rejected(model: LinearModel, texts: list[str], emb: np.ndarray, threshold: float) -> np.ndarray:
    p = model.probabilities(texts, emb)
    top = p.argmax(axis=1)
    classes = np.array(model.classes)
    return (p.max(axis=1) < threshold) | (classes[top] == OOS)


def run(setup: str, encoders: list[str], weights: list[float], tfidf: bool, c: float) -> None:
    rows = read_rows(DEFAULT_CSV)
    train_idx, heldout = split_rows(rows)
    own = own_examples()
    texts = [normalise(rows[i][0]) for i in train_idx] + [normalise(t) for t, _ in own]
    labels = [rows[i][1] for i in train_idx] + [label for _, label in own]
    test = [normalise(rows[i][0]) for i in heldout]
    truth = np.array([rows[i][1] for i in heldout])
    tasks = [(normalise(t), i) for t, i in read_nlu_yaml(ROOT / "tests/nlu/tasks_eval.yml")]
    tune, evaluate = off_domain_halves()
    tune, evaluate = [normalise(t) for t in tune], [normalise(t) for t in evaluate]

    started = time.monotonic()
    model = LinearModel(c, 1.0, use_tfidf=tfidf)
    model.fit(texts, embed(encoders, weights, texts), labels)
    fit_s = time.monotonic() - started
    test_emb = embed(encoders, weights, test)
    scores = model.scores(test, test_emb)
    classes = np.array(model.classes)
    b77 = classes[scores.argmax(axis=1)]
    accuracy = float(np.mean(b77 == truth))
    task_texts = [t for t, _ in tasks]
    task_pred = classes[model.scores(task_texts, embed(encoders, weights, task_texts)).argmax(1)]
    task_acc = float(np.mean(task_pred == np.array([i for _, i in tasks])))
    line = f"{setup:34} C={c:<4} acc {accuracy:.4f} tasks {task_acc:.4f} fit {fit_s:.0f}s"
    # Rejection: the temperature as the component fits it is not known here; sweep a few.
    for temperature in (10.0, 20.0):
        model.temperature = temperature
        tune_emb, eval_emb = embed(encoders, weights, tune), embed(encoders, weights, evaluate)
        for threshold in (0.3, 0.4, 0.5, 0.6):
            fr = float(np.mean(rejected(model, test, test_emb, threshold)))
            rt = float(np.mean(rejected(model, tune, tune_emb, threshold)))
            re = float(np.mean(rejected(model, evaluate, eval_emb, threshold)))
            line += f"\n    T={temperature:<4} thr {threshold}: oos tune {rt:.3f} eval {re:.3f} "
            line += f"false-rej b77 {fr:.3f}"
    print(line, flush=True)


def latency(encoders: list[str], count: int = 200) -> None:
    """Single-sentence encoding time (what each parse pays), p50/p95 in ms."""
    from bot.components.sentence_encoder import get_encoder

    rows = read_rows(DEFAULT_CSV)
    texts = [normalise(rows[i][0]) for i in range(0, len(rows), len(rows) // count)][:count]
    for name in encoders:
        get_encoder(name).encode(["warm up"])
    times = []
    for text in texts:
        started = time.perf_counter()
        for name in encoders:
            get_encoder(name).encode([text])
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p50, p95 = times[len(times) // 2], times[int(0.95 * (len(times) - 1))]
    print(f"encode one sentence with {' + '.join(encoders):16} p50 {p50:.1f} ms p95 {p95:.1f} ms")


def rejection() -> None:
    """The pipeline as bot/config.yml sets it (temperature fitted as in training) on the
    eval-nlu split; FallbackClassifier's rule (top confidence below the threshold, or the
    top two closer than the ambiguity threshold) swept over thresholds."""
    from bot.components.intent_classifier import embed, train_model
    from scripts.check_nlu_accuracy import classifier_config

    config = classifier_config()
    rows = read_rows(DEFAULT_CSV)
    train_idx, heldout = split_rows(rows)
    own = own_examples()
    texts = [normalise(rows[i][0]) for i in train_idx] + [normalise(t) for t, _ in own]
    labels = [rows[i][1] for i in train_idx] + [label for _, label in own]
    model = train_model(config, texts, labels)
    print(f"encoders {config['encoders']}, fitted temperature {model.temperature}")
    classes = np.array(model.classes)
    tasks = [(normalise(t), i) for t, i in read_nlu_yaml(ROOT / "tests/nlu/tasks_eval.yml")]
    tune, evaluate = off_domain_halves()
    sets = {
        "b77": [normalise(rows[i][0]) for i in heldout],
        "tasks": [t for t, _ in tasks],
        "tune": [normalise(t) for t in tune],
        "eval": [normalise(t) for t in evaluate],
    }
    probabilities = {
        k: model.probabilities(v, embed(config, v, cached=True)) for k, v in sets.items()
    }
    for threshold in (0.3, 0.35, 0.4, 0.45, 0.5, 0.6):
        out = {}
        for key, p in probabilities.items():
            ordered = np.sort(p, axis=1)
            fallback = (ordered[:, -1] < threshold) | (ordered[:, -1] - ordered[:, -2] < 0.05)
            out[key] = fallback | (classes[p.argmax(axis=1)] == OOS)
        task_ok = np.mean(
            [
                not out["tasks"][n] and classes[probabilities["tasks"][n].argmax()] == intent
                for n, (_, intent) in enumerate(tasks)
            ]
        )
        print(
            f"threshold {threshold}: off-domain rejected: tuning half {out['tune'].mean():.3f}, "
            f"evaluation half {out['eval'].mean():.3f}; banking77 false rejection "
            f"{out['b77'].mean():.3f}; task accuracy after fallback {task_ok:.3f}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", action="store_true", help="only the encoding latency")
    parser.add_argument("--setup", choices=sorted(SETUPS), help="only this set-up")
    parser.add_argument("--rejection", action="store_true", help="only the rejection sweep")
    args = parser.parse_args()
    if args.rejection:
        rejection()
        return
    if args.latency:
        for encoders in (["minilm"], ["mpnet"], ["mpnet", "minilm"]):
            latency(encoders)
        return
    for name, (encoders, weights, tfidf, c) in SETUPS.items():
        if args.setup in (None, name):
            run(name, encoders, weights, tfidf, c)


if __name__ == "__main__":
    main()
