"""NLU evaluation (`make eval-nlu`): hold out a fixed, stratified 20 % of the BANKING77
training file, train the project's pipeline (bot/config.yml) on the rest plus the
project's own intents, and report on the held-out texts and the project's own
evaluation sets.

Runs in the Rasa virtualenv. Writes var/eval/nlu/{report.json, confusion.png} and prints
a summary: BANKING77 accuracy and macro-F1 (top intent before the fallback threshold,
and after it: a fallback counts as wrong), out-of-scope detection on
tests/nlu/out_of_scope_eval.txt and on the evaluation half of tests/nlu/off_domain.txt
(with the false rejection of BANKING77 texts), task-intent accuracy on
tests/nlu/tasks_eval.yml, single-message parse latency (p50/p95) measured in-process,
and the classifier's held-out accuracy and 5-fold cross-validation on cached embeddings
(scripts/check_nlu_accuracy.py). `--record` (`make eval-nlu RECORD=1`) writes that
held-out accuracy to tests/nlu/recorded_accuracy.json, the figure `make test` checks.
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
from scripts.check_nlu_accuracy import RECORDED, cross_validation, heldout_accuracy  # noqa: E402
from scripts.nlu_sets import off_domain_halves, split_rows  # noqa: E402

OUT = ROOT / "var" / "eval" / "nlu"
OOS_EVAL = ROOT / "tests" / "nlu" / "out_of_scope_eval.txt"
TASKS_EVAL = ROOT / "tests" / "nlu" / "tasks_eval.yml"
FALLBACK = "nlu_fallback"


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
    tuning, off_domain = off_domain_halves()
    texts = heldout_texts + oos_texts + [t for t, _ in task_items] + tuning + off_domain
    results, latencies = asyncio.run(parse_all(model, texts))
    b77 = results[: len(heldout_texts)]
    oos = results[len(heldout_texts) : len(heldout_texts) + len(oos_texts)]
    tasks = results[len(heldout_texts) + len(oos_texts) : len(texts) - len(tuning + off_domain)]
    tuned_on = results[len(texts) - len(tuning + off_domain) : len(texts) - len(off_domain)]
    off = results[len(texts) - len(off_domain) :]

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
        # tests/nlu/off_domain.txt: the half not used to tune the rejection, and the other.
        "off_domain_examples": len(off_domain),
        "off_domain_rejected": sum(is_out_of_scope(top_intent(r, False)) for r in off)
        / max(1, len(off)),
        "off_domain_rejected_tuning_half": sum(
            is_out_of_scope(top_intent(r, False)) for r in tuned_on
        )
        / max(1, len(tuned_on)),
        # Banking texts answered with the fallback or as out of scope: false rejections.
        "banking77_false_rejection": sum(is_out_of_scope(top_intent(r, False)) for r in b77)
        / len(b77),
        "task_examples": len(task_items),
        "task_accuracy": sum(
            top_intent(r, False) == intent for r, (_, intent) in zip(tasks, task_items, strict=True)
        )
        / max(1, len(task_items)),
        "parse_latency_ms_p50": statistics.median(latencies),
        "parse_latency_ms_p95": percentile(latencies, 0.95),
    }
    # The classifier alone on cached embeddings: the figure `make test` checks, and a
    # 5-fold cross-validation over all of BANKING77 (5 SVM fits, no Rasa training).
    report["classifier_heldout_accuracy"] = heldout_accuracy()
    report["cv5_accuracy_mean"], report["cv5_accuracy_sd"] = cross_validation(5)
    confusion_plot(truth, raw, OUT / "confusion.png")
    (OUT / "report.json").write_text(json.dumps(report, indent=2))
    misses = [(t, g, p) for t, g, p in zip(heldout_texts, truth, raw, strict=True) if g != p]
    (OUT / "misses.txt").write_text("".join(f"{g}\t{p}\t{t}\n" for t, g, p in misses))
    for key, value in report.items():
        print(f"{key:36} {value:.4f}" if isinstance(value, float) else f"{key:36} {value}")
    print(f"confusion plot: {OUT / 'confusion.png'}")
    if "--record" in sys.argv:
        figure = {"banking77_heldout_accuracy": round(report["classifier_heldout_accuracy"], 4)}
        RECORDED.write_text(json.dumps(figure, indent=2) + "\n")
        print(f"recorded in {RECORDED.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
