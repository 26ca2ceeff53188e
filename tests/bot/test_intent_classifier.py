"""The intent classifier's parts: the real offline encoders (MiniLM and mpnet), the
embedding cache and the linear model."""

from pathlib import Path

import numpy as np
import pytest

from bot.components.embedding_cache import encode_cached
from bot.components.intent_classifier import LinearModel, fit_temperature
from bot.components.sentence_encoder import get_encoder


def test_encoder_gives_unit_vectors_that_group_meaning() -> None:
    vectors = get_encoder().encode(
        [
            "my card has not arrived yet",
            "the card you sent me never came",
            "what is the weather",
        ]
    )
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similar, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > unrelated + 0.2
    again = get_encoder().encode(["my card has not arrived yet"])
    assert np.allclose(again[0], vectors[0], atol=1e-5)


def test_linear_model_learns_and_fits_a_temperature() -> None:
    texts = [
        "freeze my card",
        "block my card now",
        "lock the card",
        "pause my card please",
        "what is my balance",
        "how much money do i have",
        "balance please",
        "show balance",
    ]
    labels = ["freeze"] * 4 + ["balance"] * 4
    embeddings = get_encoder().encode(texts)
    model = LinearModel(svm_c=1.0, embedding_weight=2.0)
    model.fit(texts, embeddings, labels)
    probe = ["please freeze the card", "tell me my balance"]
    probabilities = model.probabilities(probe, get_encoder().encode(probe))
    assert [model.classes[i] for i in probabilities.argmax(axis=1)] == ["freeze", "balance"]
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    temperature = fit_temperature(model, texts, embeddings, labels)
    assert temperature > 0


@pytest.mark.parametrize(("name", "dimension"), [("minilm", 384), ("mpnet", 768)])
def test_both_encoders_load_offline_and_group_meaning(name: str, dimension: int) -> None:
    texts = ["i lost my card", "my card went missing", "how do i bake bread"]
    vectors = get_encoder(name).encode(texts)
    assert vectors.shape == (3, dimension)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    # Batched with texts of other lengths (so padded differently), a row stays the same.
    alone = get_encoder(name).encode(["my card went missing"])
    assert np.allclose(alone[0], vectors[1], atol=1e-4)


def test_the_embedding_cache_returns_the_encoders_rows_and_keeps_them(tmp_path: Path) -> None:
    texts = ["where is my refund", "top up by bank transfer", "where is my refund"]
    first = encode_cached("minilm", texts, tmp_path)
    assert np.allclose(first, get_encoder("minilm").encode(texts), atol=1e-4)
    (stored,) = tmp_path.glob("*.npz")
    assert stored.name.startswith(get_encoder("minilm").identity)
    with np.load(stored) as cached:
        assert len(cached["keys"]) == 2  # the repeated text is stored once
    again = encode_cached("minilm", ["top up by bank transfer", "a new text"], tmp_path)
    assert np.array_equal(again[0], first[1])
    with np.load(stored) as cached:
        assert len(cached["keys"]) == 3


def test_the_encoders_name_their_weights_apart() -> None:
    assert get_encoder("minilm").identity != get_encoder("mpnet").identity
    assert get_encoder("mpnet").identity.startswith("all-mpnet-base-v2-")
