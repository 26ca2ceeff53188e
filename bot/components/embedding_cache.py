"""A disk cache of sentence embeddings for training: each text is encoded once per
encoder, so that retraining, `make eval-nlu` (its split model and cross-validation) and
the held-out accuracy check of `make test` (scripts/check_nlu_accuracy.py) do not encode
the ~12,000 training texts again (all-mpnet-base-v2 takes minutes for them on 2 cores).

Only training uses it; parsing a message always runs the encoder. The file is keyed by
the encoder's name and weights (`SentenceEncoder.identity`), so other weights never reuse
stale rows. It lives under var/ (git-ignored) and may be deleted at any time.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from bot.components.sentence_encoder import get_encoder

DEFAULT_DIR = Path("var") / "cache" / "embeddings"
CHUNK = 1024


def _key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _store(path: Path, cached: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(f".{os.getpid()}.npz")
    np.savez(scratch, keys=np.array(list(cached)), vectors=np.stack(list(cached.values())))
    scratch.replace(path)  # whole or not at all, also with two writers


def encode_cached(name: str, texts: list[str], cache_dir: Path | None = None) -> np.ndarray:
    """The encoder's rows for `texts`, computing and storing only those not cached yet."""
    encoder = get_encoder(name)
    folder = cache_dir or DEFAULT_DIR
    path = folder / f"{encoder.identity}.npz"
    cached: dict[str, np.ndarray] = {}
    if path.is_file():
        with np.load(path) as stored:
            cached = dict(zip(stored["keys"].tolist(), stored["vectors"], strict=True))
    keys = [_key(t) for t in texts]
    missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in cached}.items())
    # Stored every CHUNK texts, so an interrupted run keeps what it encoded.
    for start in range(0, len(missing), CHUNK):
        chunk = missing[start : start + CHUNK]
        cached.update(
            zip([k for k, _ in chunk], encoder.encode([t for _, t in chunk]), strict=True)
        )
        _store(path, cached)
    if not texts:
        return np.zeros((0, encoder.dimension), dtype=np.float32)
    return np.stack([cached[k] for k in keys]).astype(np.float32)
