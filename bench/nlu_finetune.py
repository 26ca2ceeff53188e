"""Experiment, not part of the pipeline: fine-tune all-MiniLM-L6-v2 (mean pooling plus a
softmax layer) on the same fixed BANKING77 split as `make eval-nlu`, and print the
held-out accuracy after each epoch with its training time. Runs in the Rasa venv:

    .venv-rasa/bin/python bench/nlu_finetune.py [--epochs 3]

Measured on 2 cores: 204 / 222 / 193 s per epoch, accuracy 88.6 / 90.7 / 92.1 %
after epochs 1 / 2 / 3 (the frozen encoder + TF-IDF + linear SVM pipeline: 92.65 %).
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bot.components.sentence_encoder import default_model_dir  # noqa: E402
from scripts.banking77_to_rasa import DEFAULT_CSV, normalise, read_rows  # noqa: E402
from scripts.eval_nlu import split_rows  # noqa: E402

MAX_TOKENS = 48


def main() -> None:
    import tensorflow as tf
    from transformers import BertTokenizerFast, TFBertModel

    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    rows = read_rows(DEFAULT_CSV)
    train, heldout = split_rows(rows)
    classes = sorted({category for _, category in rows})
    labels = np.array([classes.index(category) for _, category in rows])
    tokenizer = BertTokenizerFast.from_pretrained(str(default_model_dir()))

    def encode(indices: list[int]) -> list[np.ndarray]:
        batch = tokenizer([normalise(rows[i][0]) for i in indices], padding="max_length",
                          truncation=True, max_length=MAX_TOKENS, return_tensors="np")  # fmt: skip
        return [batch["input_ids"].astype(np.int32), batch["attention_mask"].astype(np.int32)]

    ids = tf.keras.Input((MAX_TOKENS,), dtype=tf.int32)
    mask = tf.keras.Input((MAX_TOKENS,), dtype=tf.int32)
    hidden = TFBertModel.from_pretrained(str(default_model_dir()))(
        input_ids=ids, attention_mask=mask).last_hidden_state
    weights = tf.cast(mask[..., None], hidden.dtype)
    pooled = tf.reduce_sum(hidden * weights, 1) / tf.reduce_sum(weights, 1)
    logits = tf.keras.layers.Dense(len(classes))(tf.keras.layers.Dropout(0.1)(pooled))
    model = tf.keras.Model([ids, mask], logits)
    model.compile(optimizer=tf.keras.optimizers.Adam(5e-5), metrics=["accuracy"],
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # fmt: skip
    train_x, heldout_x = encode(train), encode(heldout)
    for epoch in range(1, args.epochs + 1):
        started = time.monotonic()
        model.fit(train_x, labels[train], batch_size=32, epochs=1, verbose=0)
        predicted = model.predict(heldout_x, batch_size=128, verbose=0).argmax(axis=1)
        accuracy = float((predicted == labels[heldout]).mean())
        seconds = time.monotonic() - started
        print(f"epoch {epoch}: {seconds:.0f} s, held-out accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
