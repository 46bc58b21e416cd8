"""The training reference a model keeps, so later data can be compared with it.

Per numeric feature: the decile edges of the training values as the user sees them (before
imputing, log-transforming and scaling; tied edges merged, so a feature that is 0 for 40% of
users has one bin for all its zeros) with the share of training users in each bin, the share
missing, mean and standard deviation, and a 1,000-point quantile grid for the Wasserstein
distance. Per category: the share of each level. Per segment: size, share, centroid in the
model's space and the bimodality coefficient of its members.

Saved beside the model as ``reference.json`` (everything readable) and ``reference.npz``
(the quantile grids and centroids, loaded with ``allow_pickle=False``); no pickle.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personae._version import __version__
from personae.data.documents import read_document, write_document
from personae.data.readers import read_arrays
from personae.errors import ModelFileError
from personae.monitor._adapter import (
    category_values,
    model_categorical,
    model_numeric,
    numeric_values,
    segment_matrix,
)
from personae.monitor.stats import bimodality, centroids, model_space_sd, segment_rows

log = logging.getLogger(__name__)

FORMAT = "personae.monitor-reference"
FORMAT_VERSION = 1
N_BINS = 10
QUANTILE_GRID = (np.arange(1000) + 0.5) / 1000  # midpoints: W1 = mean |Q_a(u) - Q_b(u)|
MAX_LEVELS = 50
MISSING = "(missing)"
OTHER = "(other)"


@dataclass(frozen=True, eq=False)
class NumericReference:
    """One number column: bins are ``(-inf, e1], (e1, e2], ..., (e_last, inf)``."""

    name: str
    edges: tuple[float, ...]
    shares: tuple[float, ...]
    missing_share: float
    mean: float
    sd: float
    quantiles: np.ndarray

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "edges": list(self.edges), "shares": list(self.shares),
                "missing_share": self.missing_share, "mean": self.mean, "sd": self.sd}


@dataclass(frozen=True, eq=False)
class CategoryReference:
    """One category column: the share of each level (``(missing)`` and ``(other)`` included
    where they occur; a level beyond the ``MAX_LEVELS`` commonest is ``(other)``)."""

    name: str
    levels: tuple[str, ...]
    shares: tuple[float, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "levels": list(self.levels), "shares": list(self.shares)}


@dataclass(frozen=True, eq=False)
class Reference:
    """What the training users looked like. ``centroids`` rows follow ``segments``, columns
    ``space_features`` (the model's own, scaled space); ``space_sd`` is the training SD of
    each of those columns (the unit of governance's effect sizes)."""

    n_users: int
    numeric: tuple[NumericReference, ...]
    categorical: tuple[CategoryReference, ...]
    segments: tuple[int, ...]
    segment_sizes: tuple[int, ...]
    space_features: tuple[str, ...]
    space_sd: np.ndarray
    centroids: np.ndarray
    bimodality: tuple[float, ...]
    source: str = "training"

    @property
    def segment_shares(self) -> np.ndarray:
        sizes = np.asarray(self.segment_sizes, dtype=np.float64)
        return sizes / max(sizes.sum(), 1.0)

    def save(self, model_dir: str | Path) -> Path:
        """Write ``reference.json`` and ``reference.npz`` into ``model_dir``."""
        folder = Path(model_dir)
        document = {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "personae_version": __version__, "source": self.source,
            "n_users": self.n_users, "bins": "right-closed: (-inf, e1], (e1, e2], ...",
            "numeric": [f.as_dict() for f in self.numeric],
            "categorical": [c.as_dict() for c in self.categorical],
            "segments": [{"segment": s, "size": n, "bimodality": b} for s, n, b in
                         zip(self.segments, self.segment_sizes, self.bimodality, strict=True)],
            "space_features": list(self.space_features),
        }
        arrays = {f"quantiles.{i}": f.quantiles for i, f in enumerate(self.numeric)}
        arrays.update(centroids=self.centroids, space_sd=self.space_sd)
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / ".reference.npz.partial.npz"
        np.savez(partial, **arrays)  # type: ignore[arg-type]
        partial.replace(folder / "reference.npz")
        write_document(folder / "reference.json", document, FORMAT, FORMAT_VERSION)
        return folder / "reference.json"

    @classmethod
    def load(cls, model_dir: str | Path) -> Reference:
        folder = Path(model_dir)
        document = read_document(folder / "reference.json", FORMAT, (FORMAT_VERSION,),
                                 what="this model keeps no monitoring reference",
                                 name="monitoring reference")
        assert document is not None  # required: read_document raised otherwise
        arrays = read_arrays(folder / "reference.npz", "reference arrays")
        try:
            numeric = tuple(NumericReference(
                name=f["name"], edges=tuple(float(e) for e in f["edges"]),
                shares=tuple(float(s) for s in f["shares"]),
                missing_share=float(f["missing_share"]), mean=float(f["mean"]),
                sd=float(f["sd"]), quantiles=np.asarray(arrays[f"quantiles.{i}"], float))
                for i, f in enumerate(document["numeric"]))
            categorical = tuple(CategoryReference(
                name=c["name"], levels=tuple(str(v) for v in c["levels"]),
                shares=tuple(float(s) for s in c["shares"])) for c in document["categorical"])
            segments = document["segments"]
            return cls(
                n_users=int(document["n_users"]), numeric=numeric, categorical=categorical,
                segments=tuple(int(s["segment"]) for s in segments),
                segment_sizes=tuple(int(s["size"]) for s in segments),
                space_features=tuple(document["space_features"]),
                space_sd=np.asarray(arrays["space_sd"], dtype=np.float64),
                centroids=np.asarray(arrays["centroids"], dtype=np.float64),
                bimodality=tuple(float(s["bimodality"]) for s in segments),
                source=str(document.get("source", "training")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{folder / 'reference.json'}: incomplete reference "
                                 f"({exc.__class__.__name__}: {exc})") from None


def numeric_reference(name: str, values: np.ndarray) -> NumericReference:
    """Decile bins (ties merged) and the quantile grid of one column of raw values."""
    present = values[~np.isnan(values)]
    n = len(values)
    if len(present) == 0:
        return NumericReference(name, (), (0.0,), 1.0, float("nan"), float("nan"),
                                np.full(len(QUANTILE_GRID), np.nan))
    mean, sd = float(present.mean()), float(present.std())  # summed in the users' order
    # sorted once: each quantile call would partition the values again (1,009 cut points)
    ordered = np.sort(present)
    # edges are values users have (inverted CDF), not interpolations between two of them
    inner = np.quantile(ordered, np.arange(1, N_BINS) / N_BINS, method="inverted_cdf")
    edges = np.unique(inner)
    counts = np.bincount(np.searchsorted(edges, ordered, side="left"),
                         minlength=len(edges) + 1)
    return NumericReference(
        name=name, edges=tuple(float(e) for e in edges),
        shares=tuple(float(c) / n for c in counts), missing_share=float(n - len(present)) / n,
        mean=mean, sd=sd, quantiles=np.quantile(ordered, QUANTILE_GRID))


def category_reference(name: str, values: pd.Series) -> CategoryReference:
    counts = values.value_counts(sort=True)
    kept = counts.iloc[:MAX_LEVELS]
    rest = int(counts.iloc[MAX_LEVELS:].sum())
    levels = [str(v) for v in kept.index] + ([OTHER] if rest else [])
    sizes = kept.to_numpy(dtype=np.float64).tolist() + ([float(rest)] if rest else [])
    total = max(len(values), 1)
    return CategoryReference(name, tuple(levels), tuple(s / total for s in sizes))


def build_reference(frame: pd.DataFrame, labels: np.ndarray, model: Any,
                    source: str = "training", X: np.ndarray | None = None,
                    rows: np.ndarray | None = None) -> Reference:
    """The reference of a fitted ``SegmentModel`` from its training ``frame`` (the columns as
    the user gave them) and the training ``labels``; ``X``, the training matrix when the
    caller has it, saves transforming the users again. ``rows`` (a sample of row positions)
    gives the feature bins and shares from those users only: a million users fix deciles
    to a fraction of a percent, and the segment sizes and centroids still count everyone."""
    labels = np.asarray(labels)
    values = frame if rows is None else frame.iloc[np.sort(rows)]
    log.info("building the monitoring reference from %d users", len(values))
    numeric = tuple(numeric_reference(name, numeric_values(values, name, source))
                    for name in model_numeric(model))
    categorical = tuple(category_reference(name, category_values(values, name))
                        for name in model_categorical(model))
    if X is None:
        X = segment_matrix(model, frame, source)
    segments = sorted(int(s) for s in np.unique(labels) if s >= 0)
    sizes = tuple(int(np.sum(labels == s)) for s in segments)
    return Reference(
        n_users=len(frame), numeric=numeric, categorical=categorical,
        segments=tuple(segments), segment_sizes=sizes,
        space_features=tuple(model.feature_names), space_sd=model_space_sd(X),
        centroids=centroids(X, labels, segments),
        bimodality=tuple(bimodality(X[segment_rows(labels, s)]) for s in segments), source=source)
