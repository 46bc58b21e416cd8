"""Event log -> a user table with sequence embeddings, alone or beside the event features.

Representations:

- ``embedding``: ``emb_0..emb_{d-1}``, the user vectors themselves;
- ``hybrid``: the event features of :func:`personae.features.from_events` (``p`` usable
  columns) plus an embedding block. The
  preprocessor standardises every column, so a block's weight in any distance is its number
  of columns: equal counts give equal total variance, and neither block drowns the other.
  With ``embedding_share`` w the block has ``m = round(p * w / (1 - w))`` columns (capped
  at d), so it carries the share w of the total variance. The default w = 2/3 (twice the
  behaviour block) was measured: on the planted-order log, where the behaviour block is
  pure noise, w = 0.5 gives k-means ARI 0.57, w = 2/3 gives 0.98 (GMM 0.97); the event
  features are many correlated views of a few quantities (counts, days, sessions), so a
  column count overstates what they add. Neither block drowns: the smaller has 1/3.
  The embedding block is the top ``m`` principal components of the user
  vectors, turned by a seeded random rotation so that every column mixes all of them
  (standardising each column is then close to one common scale for the block, and keeps
  its geometry, where standardising bare components would blow small ones up to the size
  of the first). When ``d < m`` the block weighs less than w: said in the notes.
- ``umap=True`` (embedding only): the vectors reduced by UMAP (seeded) to ``umap_0..`` for
  the density algorithms; new users are placed at the distance-weighted mean of their
  10 nearest training users' UMAP coordinates (the model keeps both, no pickle). Off by
  default: on the planted-order log HDBSCAN scored ARI 0.64/0.58/0.63 after UMAP against
  0.67/0.59/0.85 without (seeds 0-2), and UMAP adds ~20 s of numba compilation.

The fitted state (embedder, block rotation, UMAP anchors) saves under ``model/sequences``.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from personae.data.documents import read_document, write_document
from personae.errors import ConfigError, ModelFileError
from personae.features.embeddings import (
    BIGRAM,
    EmbeddingReport,
    SequenceEmbedder,
    Word2VecConfig,
    sentence_vectors,
)
from personae.features.sequences import Sequences, sequences_from_events

logger = logging.getLogger(__name__)

FOLDER = "sequences"
STATE_FORMAT = "personae.sequence-model"
_NEIGHBOURS = 10


@dataclass(frozen=True)
class SequenceOptions:
    """Everything that decides how an event log becomes embedding columns."""

    embed: Literal["word2vec", "sentence"] = "word2vec"
    representation: Literal["embedding", "hybrid"] = "embedding"
    tokens: str = "event"
    min_count: int = 5
    max_length: int = 500
    session_gap_minutes: float = 30
    embedding_share: float = 2 / 3
    umap: bool = False
    umap_dimensions: int = 5
    word2vec: Word2VecConfig = field(default_factory=Word2VecConfig)
    mapping: dict[str, str] = field(default_factory=dict)
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        for name, allowed in (("embed", ("word2vec", "sentence")),
                              ("representation", ("embedding", "hybrid"))):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"--{name} must be one of {', '.join(allowed)}; got "
                                  f"{getattr(self, name)!r}")
        share = self.embedding_share
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share < 1:
            raise ConfigError(f"--embedding-share must be a number in (0, 1); got {share!r}")
        if self.umap and self.representation != "embedding":
            raise ConfigError("--umap reduces the embedding representation only; use "
                              "--representation embedding")


@dataclass
class SequenceTable:
    """The user table to segment, and what made it (kept to save into the model)."""

    frame: pd.DataFrame
    columns: list[str]
    sequences: Sequences
    vectors: np.ndarray
    report: EmbeddingReport
    state: dict[str, Any]
    arrays: dict[str, np.ndarray]
    embedder: SequenceEmbedder | None = None
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        seq = self.sequences.report.lines() if self.sequences.report else []
        return seq + self.report.lines() + self.notes


def _sequences(source: Any, options: SequenceOptions,
               vocabulary: tuple[str, ...] | None = None) -> Sequences:
    roles = {k: v for k, v in options.mapping.items()
             if k in ("user", "time", "event", "item", "category", "session", "position")}
    return sequences_from_events(source, tokens=options.tokens, min_count=options.min_count,
                                 max_length=options.max_length,
                                 session_gap_minutes=options.session_gap_minutes,
                                 vocabulary=vocabulary, **roles)


def sequence_table(source: Any, options: SequenceOptions, features: pd.DataFrame | None = None,
                   random_state: int = 0) -> SequenceTable:
    """Tokens -> vectors -> the table (``user_id`` first). ``features`` (one row per
    ``user_id``, e.g. ``from_events(...).frame``) is needed for the hybrid."""
    if options.representation == "hybrid" and features is None:
        raise ConfigError("representation='hybrid' needs the event features (features=...)")
    seqs = _sequences(source, options)
    embedder = None
    if options.embed == "word2vec":
        config = Word2VecConfig(**{**asdict(options.word2vec), "seed": random_state})
        embedder = SequenceEmbedder(config).fit(seqs, options.cache_dir)
        vectors, report = embedder.transform(seqs)
    else:
        vectors, report = sentence_vectors(seqs, options.cache_dir)
    state: dict[str, Any] = {"options": _options_json(options), "random_state": random_state}
    arrays: dict[str, np.ndarray] = {}
    notes: list[str] = []
    ids = pd.Series(seqs.ids, name="user_id")
    if options.representation == "hybrid":
        assert features is not None
        behaviour = [c for c in features.columns if c != "user_id"
                     and pd.api.types.is_numeric_dtype(features[c])
                     and features[c].nunique(dropna=True) > 1]
        share = options.embedding_share
        wanted = max(1, round(len(behaviour) * share / (1 - share)))
        m = min(wanted, vectors.shape[1])
        block, arrays = _fit_block(vectors, m, random_state)
        columns = [f"emb_{i}" for i in range(m)]
        notes.append(f"hybrid: {len(behaviour)} behavioural columns + {m} embedding columns "
                     f"(top {m} principal components, rotated; "
                     f"{arrays['explained'].sum():.0%} of the embedding variance); each "
                     "column is standardised, so each block weighs its column count")
        if m < wanted:
            weight = m / (m + len(behaviour))
            notes.append(f"hybrid: the embedding has {vectors.shape[1]} dimensions < the "
                         f"{wanted} columns its share needs: it weighs {weight:.0%} of the "
                         "table; raise --dimensions")
        emb = pd.DataFrame(block, columns=columns)
        emb.insert(0, "user_id", ids)
        frame = features.merge(emb, on="user_id", how="inner", validate="one_to_one")
    elif options.umap:
        coords = _umap(vectors, options.umap_dimensions, random_state)
        columns = [f"umap_{i}" for i in range(coords.shape[1])]
        arrays = {"anchors": vectors.astype(np.float32), "anchor_coords": coords}
        notes.append(f"umap: {vectors.shape[1]} -> {coords.shape[1]} dimensions (seeded, "
                     f"{_NEIGHBOURS}-neighbour placement for new users)")
        frame = pd.DataFrame(coords, columns=columns)
        frame.insert(0, "user_id", ids)
    else:
        columns = [f"emb_{i}" for i in range(vectors.shape[1])]
        frame = pd.DataFrame(vectors, columns=columns)
        frame.insert(0, "user_id", ids)
    state["columns"] = columns
    return SequenceTable(frame=frame, columns=columns, sequences=seqs, vectors=vectors,
                         report=report, state=state, arrays=arrays, embedder=embedder,
                         notes=notes)


def _options_json(options: SequenceOptions) -> dict[str, Any]:
    out = asdict(options)
    out.pop("cache_dir")
    return out


def _fit_block(vectors: np.ndarray, m: int, seed: int) -> tuple[np.ndarray,
                                                                 dict[str, np.ndarray]]:
    mean = vectors.mean(axis=0)
    _, sv, vt = np.linalg.svd(vectors - mean, full_matrices=False)
    components = vt[:m]
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((m, m)))
    rotation = q * np.sign(np.diag(r))
    projection = (components.T @ rotation).astype(np.float64)
    var = sv ** 2
    arrays = {"mean": mean.astype(np.float64), "projection": projection,
              "explained": (var[:m] / var.sum()) if var.sum() > 0 else np.zeros(m)}
    return (vectors - mean) @ projection, arrays


def _umap(vectors: np.ndarray, dims: int, seed: int) -> np.ndarray:
    from personae.profile.maps import umap_class

    n = len(vectors)
    reducer = umap_class()(n_components=min(dims, max(2, n - 2)), n_neighbors=min(15, n - 1),
                        min_dist=0.0, random_state=seed, n_jobs=1)
    return np.asarray(reducer.fit_transform(vectors), dtype=np.float32)


def save_sequence_model(table: SequenceTable, model_dir: str | Path) -> Path:
    """Write ``model_dir/sequences`` (JSON + npz) through a temporary folder."""
    model_dir = Path(model_dir)
    staging = Path(tempfile.mkdtemp(prefix=".sequences-", dir=model_dir))
    try:
        if table.embedder is not None:
            table.embedder.save(staging / "embedder")
        np.savez(staging / "block.npz", **table.arrays)  # type: ignore[arg-type]
        write_document(staging / "sequences.json", table.state, STATE_FORMAT, 1)
        target = model_dir / FOLDER
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return model_dir / FOLDER


def representation_of(model_dir: str | Path) -> str | None:
    """'embedding' or 'hybrid' for a model fitted with --embed; None for any other model."""
    path = Path(model_dir) / FOLDER / "sequences.json"
    if not path.exists():
        return None
    state = _state(path.parent)
    try:
        return str(state["options"]["representation"])
    except (TypeError, KeyError) as exc:
        raise ModelFileError(f"{path}: unreadable ({exc})") from None


def _state(folder: Path) -> dict[str, Any]:
    """sequences.json (it had no format before version 1)."""
    state = read_document(folder / "sequences.json", STATE_FORMAT, (1,), legacy=True,
                          what="not a sequence model: was it fitted with --embed?",
                          name="sequence model")
    assert state is not None  # required: read_document raised otherwise
    return state


def embed_new(model_dir: str | Path, source: Any, mapping: dict[str, str] | None = None,
              features: pd.DataFrame | None = None) -> tuple[pd.DataFrame, EmbeddingReport]:
    """New users' events -> the same columns the model was fitted on (unseen tokens counted).

    The table then goes to ``SegmentModel.predict`` (``personae assign``)."""
    folder = Path(model_dir) / FOLDER
    state = _state(folder)
    try:
        with np.load(folder / "block.npz", allow_pickle=False) as loaded:
            arrays = {k: loaded[k] for k in loaded.files}
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{folder}: not a sequence model ({exc}); was it fitted with "
                             "--embed?") from None
    raw = dict(state["options"])
    raw["word2vec"] = Word2VecConfig(**raw["word2vec"])
    raw["mapping"] = {**raw["mapping"], **(mapping or {})}
    options = SequenceOptions(**raw)
    if options.embed == "word2vec":
        embedder = SequenceEmbedder.load(folder / "embedder")
        seqs = _sequences(source, options, vocabulary=_unigrams(embedder.vocabulary_))
        vectors, report = embedder.transform(seqs)
    else:
        seqs = _sequences(source, options)
        vectors, report = sentence_vectors(seqs)
    ids = pd.Series(seqs.ids, name="user_id")
    columns = state["columns"]
    if options.representation == "hybrid":
        if features is None:
            raise ConfigError("this model is a hybrid: embed_new needs the event features")
        block = (vectors - arrays["mean"]) @ arrays["projection"]
        emb = pd.DataFrame(block, columns=columns)
        emb.insert(0, "user_id", ids)
        return features.merge(emb, on="user_id", how="inner"), report
    if options.umap:
        values = _place(vectors, arrays["anchors"], arrays["anchor_coords"])
    else:
        values = vectors
    frame = pd.DataFrame(values, columns=columns)
    frame.insert(0, "user_id", ids)
    return frame, report


def _unigrams(vocabulary: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(t for t in vocabulary if BIGRAM not in t)


def _place(vectors: np.ndarray, anchors: np.ndarray, coords: np.ndarray) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    k = min(_NEIGHBOURS, len(anchors))
    dist, idx = NearestNeighbors(n_neighbors=k).fit(anchors).kneighbors(vectors)
    w = 1.0 / (dist + 1e-9)
    return (coords[idx] * w[..., None]).sum(axis=1) / w.sum(axis=1, keepdims=True)
