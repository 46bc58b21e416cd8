"""The sentence encoder without PyTorch: the int8 ONNX model against sentence-transformers'
float32 all-MiniLM-L6-v2 (reference vectors made by scripts/minilm_reference.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from personae.features import minilm

REFERENCE = Path(__file__).parent / "data" / "minilm-reference.npz"
COSINE = 0.995  # int8 weights: measured 0.998-0.9997 on these sequences


def test_vectors_match_the_reference_model():
    reference = np.load(REFERENCE)
    texts = [str(t) for t in reference["texts"]]
    got = minilm.encode(texts)
    assert got.shape == (len(texts), 384) and got.dtype == np.float32
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cosine = (got * reference["vectors"]).sum(axis=1) / np.linalg.norm(
        reference["vectors"], axis=1)
    assert cosine.min() >= COSINE, dict(zip(texts, np.round(cosine, 4), strict=True))
    # what the model reads: the order of events, not only their counts
    order = minilm.encode(["view cart purchase", "purchase cart view"])
    assert float(order[0] @ order[1]) < 0.99


def test_each_distinct_text_is_encoded_once_and_alone(monkeypatch):
    """A text's vector does not depend on the other texts of the call (no padded batch)."""
    calls = []
    tokenizer, session = minilm._model()
    run = session.run

    class Counting:
        def run(self, outputs, feeds):
            calls.append(feeds["input_ids"].shape)
            return run(outputs, feeds)

    monkeypatch.setattr(minilm, "_model", lambda: (tokenizer, Counting()))
    texts = ["view", "view cart purchase", "view", "view cart purchase", "search"]
    together = minilm.encode(texts)
    assert len(calls) == 3 and all(shape[0] == 1 for shape in calls)
    assert np.array_equal(together[0], together[2])
    alone = minilm.encode(["view cart purchase"])
    assert np.array_equal(alone[0], together[1])
