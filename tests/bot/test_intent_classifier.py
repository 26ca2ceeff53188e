"""The intent classifier's parts: the real offline MiniLM encoder and the linear model."""

import numpy as np

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
