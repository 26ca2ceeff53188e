"""NLU evaluation (`make eval-nlu`): hold out a fixed, stratified 20 % of the BANKING77
training file, train the project's pipeline (bot/config.yml) on the rest plus the
project's own intents, and report on the held-out texts and the project's own
evaluation sets.

Runs in the Rasa virtualenv. Writes var/eval/nlu/{report.json, confusion.png} and prints
a summary: BANKING77 accuracy and macro-F1 (top intent before the fallback threshold,
and after it: a fallback counts as wrong), out-of-scope detection on
tests/nlu/out_of_scope_eval.txt, task-intent accuracy on tests/nlu/tasks_eval.yml, and
single-message parse latency (p50/p95) measured in-process.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.banking77_to_rasa import DEFAULT_CSV, group_examples, normalise, read_rows, to_yaml  # noqa: E402

OUT = ROOT / "var" / "eval" / "nlu"
HELDOUT_FRACTION = 0.2
SEED = 20201  # fixed: the split must be the same on every run and machine
OOS_EVAL = ROOT / "tests" / "nlu" / "out_of_scope_eval.txt"
TASKS_EVAL = ROOT / "tests" / "nlu" / "tasks_eval.yml"
FALLBACK = "nlu_fallback"


def split_rows(rows: list[tuple[str, str]]) -> tuple[list[int], list[int]]:
    from sklearn.model_selection import train_test_split

    indices = list(range(len(rows)))
    labels = [category for _, category in rows]
    train, heldout = train_test_split(
        indices, test_size=HELDOUT_FRACTION, stratify=labels, random_state=SEED
    )
    return sorted(train), sorted(heldout)


def write_training_data(rows: list[tuple[str, str]], heldout: list[int], data_dir: Path) -> None:
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    (data_dir / "banking77_train.yml").write_text(to_yaml(group_examples(rows, set(heldout))))
    for own in (ROOT / "nlu_data").glob("*.yml"):
        if own.name != "banking77.yml":
            shutil.copy(own, data_dir / own.name)


def train(data_dir: Path) -> Path:
    rasa = ROOT / ".venv-rasa" / "bin" / "rasa"
    started = time.monotonic()
    subprocess.run(  # noqa: S603 (our own rasa binary and paths)
        [
            str(rasa),
            "train",
            "nlu",
            "--config",
            str(ROOT / "bot" / "config.yml"),
            "--nlu",
            str(data_dir),
            "--out",
            str(OUT),
            "--fixed-model-name",
            "eval-model",
        ],
        cwd=ROOT,
        check=True,
    )
    print(f"training took {time.monotonic() - started:.0f} s")
    return OUT / "eval-model.tar.gz"


async def parse_all(model: Path, texts: list[str]) -> tuple[list[dict], list[float]]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    results, latencies = [], []
    for text in texts:
        started = time.perf_counter()
        results.append(await agent.parse_message(text))
        latencies.append((time.perf_counter() - started) * 1000)
    return results, latencies


def top_intent(result: dict, before_fallback: bool) -> str:
    ranking = result.get("intent_ranking") or []
    if before_fallback:
        ranked = [r["name"] for r in ranking if r["name"] != FALLBACK]
        return ranked[0] if ranked else FALLBACK
    return str(result["intent"]["name"])


def is_out_of_scope(intent: str) -> bool:
    return intent == FALLBACK or intent.startswith("out_of_scope")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def confusion_plot(truth: list[str], predicted: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    labels = sorted(set(truth))
    fig, ax = plt.subplots(figsize=(22, 22))
    ConfusionMatrixDisplay.from_predictions(
        truth,
        predicted,
        labels=labels,
        ax=ax,
        xticks_rotation="vertical",
        include_values=False,
        colorbar=False,
        normalize="true",
    )
    ax.set_title("BANKING77 held-out split: confusion (row-normalised)")
    fig.tight_layout()
    fig.savefig(path, dpi=60)


def main() -> None:
    from sklearn.metrics import accuracy_score, f1_score

    rows = read_rows(DEFAULT_CSV)
    _, heldout = split_rows(rows)
    OUT.mkdir(parents=True, exist_ok=True)
    write_training_data(rows, heldout, OUT / "data")
    model = train(OUT / "data")

    heldout_texts = [normalise(rows[i][0]) for i in heldout]
    truth = [rows[i][1] for i in heldout]
    oos_texts = [line.strip() for line in OOS_EVAL.read_text().splitlines() if line.strip()]
    task_items = [
        (normalise(example.lstrip("- ")), block["intent"])
        for block in yaml.safe_load(TASKS_EVAL.read_text())["nlu"]
        for example in block["examples"].splitlines()
        if example.strip()
    ]
    texts = heldout_texts + oos_texts + [t for t, _ in task_items]
    results, latencies = asyncio.run(parse_all(model, texts))
    b77 = results[: len(heldout_texts)]
    oos = results[len(heldout_texts) : len(heldout_texts) + len(oos_texts)]
    tasks = results[len(heldout_texts) + len(oos_texts) :]

    raw = [top_intent(r, before_fallback=True) for r in b77]
    final = [top_intent(r, before_fallback=False) for r in b77]
    report = {
        "heldout_examples": len(heldout),
        "banking77_accuracy": accuracy_score(truth, raw),
        # Over the 77 labels only: a guess of another intent counts as a miss, not a class.
        "banking77_macro_f1": f1_score(truth, raw, labels=sorted(set(truth)), average="macro"),
        "banking77_accuracy_after_fallback": accuracy_score(truth, final),
        "banking77_fallback_rate": sum(p == FALLBACK for p in final) / len(final),
        "out_of_scope_examples": len(oos_texts),
        "out_of_scope_detected": sum(is_out_of_scope(top_intent(r, False)) for r in oos)
        / max(1, len(oos)),
        "task_examples": len(task_items),
        "task_accuracy": sum(
            top_intent(r, False) == intent for r, (_, intent) in zip(tasks, task_items, strict=True)
        )
        / max(1, len(task_items)),
        "parse_latency_ms_p50": statistics.median(latencies),
        "parse_latency_ms_p95": percentile(latencies, 0.95),
    }
    confusion_plot(truth, raw, OUT / "confusion.png")
    (OUT / "report.json").write_text(json.dumps(report, indent=2))
    misses = [(t, g, p) for t, g, p in zip(heldout_texts, truth, raw, strict=True) if g != p]
    (OUT / "misses.txt").write_text("".join(f"{g}\t{p}\t{t}\n" for t, g, p in misses))
    for key, value in report.items():
        print(f"{key:36} {value:.4f}" if isinstance(value, float) else f"{key:36} {value}")
    print(f"confusion plot: {OUT / 'confusion.png'}")


if __name__ == "__main__":
    main()
