"""Fine-tune the MiniLM sentence encoder on intent examples (TensorFlow, CPU); used by
the experiment bench/nlu_finetune.py, whose docstring has the measured result.

The hypothesis it tests: the frozen encoder's mean-pooled embeddings separate many
BANKING77 topics only loosely (card_arrival vs card_delivery_estimate, top-up variants),
and a few epochs of supervised fine-tuning with a softmax head would pull same-intent
sentences together. (Measured: not enough to beat the frozen pipeline by more than
noise.)

Batches are built from length-sorted examples and padded only to their own longest
sentence: BANKING77 utterances average ~15 word pieces, so this trains about three times
faster than padding every batch to a fixed length.

Callers may rely on: `fine_tune` returns a `FineTuned`: the encoder (a `TFBertModel`)
with its weights updated, the softmax head and its classes; `logits(texts)` scores texts
with both. Given the same inputs and seed the batch order is the same.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

logger = logging.getLogger(__name__)
MAX_TOKENS = 64


@dataclass
class FineTuned:
    encoder: Any
    head: Any
    classes: list[str]
    tokenizer: Any

    def logits(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        rows = []
        for start in range(0, len(texts), batch_size):
            batch = self.tokenizer(
                texts[start : start + batch_size],
                padding=True,
                truncation=True,
                max_length=MAX_TOKENS,
                return_tensors="np",
            )
            mask = batch["attention_mask"].astype(np.int32)
            hidden = self.encoder(
                input_ids=batch["input_ids"].astype(np.int32), attention_mask=mask
            ).last_hidden_state
            weights = tf.cast(mask[..., None], tf.float32)
            pooled = tf.reduce_sum(hidden * weights, 1) / tf.reduce_sum(weights, 1)
            rows.append(self.head(pooled).numpy())
        return np.concatenate(rows)


def _batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    # Sort by length with a little noise so batches differ between epochs, then shuffle
    # the order of the batches themselves.
    noisy = lengths + rng.uniform(0, 3, size=len(lengths))
    order = np.argsort(noisy, kind="stable")
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def fine_tune(
    model_dir: Path,
    texts: list[str],
    labels: list[str],
    *,
    epochs: int = 4,
    learning_rate: float = 1e-4,
    batch_size: int = 32,
    seed: int = 42,
    on_epoch: Any = None,
) -> FineTuned:
    """Fine-tune the encoder at `model_dir` to classify `texts` into `labels`.

    `on_epoch(epoch, encoder)`, when given, runs after each epoch (used by experiments
    to measure held-out accuracy as training goes on).
    """
    from transformers import BertTokenizerFast, TFBertModel

    tf.random.set_seed(seed)
    rng = np.random.default_rng(seed)
    tokenizer = BertTokenizerFast.from_pretrained(str(model_dir))
    encoder = TFBertModel.from_pretrained(str(model_dir))
    classes = sorted(set(labels))
    y = np.array([classes.index(label) for label in labels], dtype=np.int32)
    ids = tokenizer(texts, truncation=True, max_length=MAX_TOKENS)["input_ids"]
    lengths = np.array([len(row) for row in ids])

    head = tf.keras.layers.Dense(len(classes))
    dropout = tf.keras.layers.Dropout(0.1)
    steps = epochs * math.ceil(len(texts) / batch_size)
    warmup = max(1, steps // 10)
    schedule = _WarmupLinearDecay(learning_rate, warmup, steps)
    optimizer = tf.keras.optimizers.Adam(schedule)
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    spec = tf.TensorSpec(shape=(None, None), dtype=tf.int32)

    @tf.function(input_signature=[spec, spec, tf.TensorSpec(shape=(None,), dtype=tf.int32)])
    def step(input_ids: Any, mask: Any, target: Any) -> Any:
        with tf.GradientTape() as tape:
            hidden = encoder(input_ids=input_ids, attention_mask=mask, training=True)
            weights = tf.cast(mask[..., None], tf.float32)
            pooled = tf.reduce_sum(hidden.last_hidden_state * weights, 1) / tf.reduce_sum(
                weights, 1
            )
            loss = loss_fn(target, head(dropout(pooled, training=True)))
        variables = [v for v in encoder.trainable_variables if "pooler" not in v.name]
        variables += head.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    for epoch in range(1, epochs + 1):
        started, losses = time.monotonic(), []
        for batch in _batches(lengths, batch_size, rng):
            width = int(lengths[batch].max())
            input_ids = np.zeros((len(batch), width), dtype=np.int32)
            mask = np.zeros((len(batch), width), dtype=np.int32)
            for row, index in enumerate(batch):
                input_ids[row, : lengths[index]] = ids[index]
                mask[row, : lengths[index]] = 1
            losses.append(float(step(input_ids, mask, y[batch])))
        logger.info(
            "fine-tune epoch %d/%d: loss %.3f, %.0f s",
            epoch,
            epochs,
            float(np.mean(losses)),
            time.monotonic() - started,
        )
        if on_epoch is not None:
            on_epoch(epoch, FineTuned(encoder, head, classes, tokenizer))
    return FineTuned(encoder, head, classes, tokenizer)


class _WarmupLinearDecay(tf.keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to `peak`, then linear decay to zero at `total` steps."""

    def __init__(self, peak: float, warmup: int, total: int) -> None:
        super().__init__()
        self.peak, self.warmup, self.total = peak, warmup, total

    def __call__(self, step: Any) -> Any:
        step = tf.cast(step, tf.float32)
        up = step / self.warmup
        down = tf.maximum(0.0, (self.total - step) / max(1, self.total - self.warmup))
        return self.peak * tf.minimum(up, down)

    def get_config(self) -> dict[str, Any]:
        return {"peak": self.peak, "warmup": self.warmup, "total": self.total}
