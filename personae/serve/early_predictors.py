"""The predictors of one early window and their held-out check: the k-NN of the first N
days' features, the core model's label of those features made into per-segment
probabilities (the shares of training users with that early label who ended in each
segment), and the blend of the two (the probabilities averaged). ``Window`` keeps what
each needs and which one answers; ``Validation`` what the held-out users said of them.

The core model's labels come from the caller (``SegmentModel.assign`` on the window's
features, the one assignment path): this module never places a user by itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["K_CHOICES", "PREDICTORS", "SKEW", "Validation", "Window", "agreement_interval",
           "choose", "fit_window"]

K_CHOICES = (5, 15, 31)
SKEW = 2.0
PREDICTORS = ("core", "knn", "blend")  # the order ties are broken in: the simplest first


@dataclass(frozen=True)
class Window:
    """One window: N days, its features and scaling, the training users (``X``, ``y``), the
    core model's calibration (``core_labels`` x segments) and the predictor that answers."""

    days: int
    k: int
    features: tuple[str, ...]
    log_columns: tuple[str, ...]
    center: np.ndarray
    scale: np.ndarray
    X: np.ndarray
    y: np.ndarray
    predictor: str = "knn"
    core_labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    calibration: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    abstains: bool = False

    @property
    def segments(self) -> np.ndarray:
        return np.unique(self.y)

    @property
    def needs_core(self) -> bool:
        return self.predictor != "knn"

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        X = frame[list(self.features)].to_numpy(dtype=np.float64, na_value=np.nan)
        for j, name in enumerate(self.features):
            if name in self.log_columns:
                X[:, j] = np.sign(X[:, j]) * np.log1p(np.abs(X[:, j]))
        # a missing value (no gap between visits in one day) sits at the mean: no distance
        return np.nan_to_num((X - self.center) / self.scale, nan=0.0).astype(np.float32)

    def classifier(self) -> Any:
        from sklearn.neighbors import KNeighborsClassifier

        return KNeighborsClassifier(n_neighbors=min(self.k, len(self.y))).fit(self.X, self.y)

    def votes(self, frame: pd.DataFrame) -> np.ndarray:
        """The k-NN's share of votes per segment (columns: ``segments``)."""
        return np.asarray(self.classifier().predict_proba(self.matrix(frame)))

    def core_probabilities(self, core: np.ndarray) -> np.ndarray:
        """Per segment, the share of training users with each user's early core label who
        ended there (a label no training user had: the segments' overall shares)."""
        prior = np.bincount(np.searchsorted(self.segments, self.y),
                            minlength=len(self.segments)) / len(self.y)
        out = np.tile(prior, (len(core), 1))
        core = np.asarray(core, dtype=np.int64)
        row = np.searchsorted(self.core_labels, core).clip(0, max(len(self.core_labels) - 1, 0))
        seen = (self.core_labels[row] == core) if len(self.core_labels) else \
            np.zeros(len(core), dtype=bool)
        out[seen] = self.calibration[row[seen]]
        return out

    def probabilities(self, frame: pd.DataFrame, core: np.ndarray | None,
                      predictor: str | None = None) -> np.ndarray:
        predictor = predictor or self.predictor
        if predictor == "knn":
            return self.votes(frame)
        assert core is not None, "the core model's early labels are needed"
        calibrated = self.core_probabilities(core)
        return calibrated if predictor == "core" else (self.votes(frame) + calibrated) / 2

    def predict(self, frame: pd.DataFrame, core: np.ndarray | None,
                predictor: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Segments (the core model's own label for ``core``, -1 there for an edge user),
        each one's probability, and every segment's (columns: ``segments``)."""
        predictor = predictor or self.predictor
        proba = self.probabilities(frame, core, predictor)
        rows = np.arange(len(proba))
        if predictor == "core":
            assert core is not None
            labels = np.asarray(core, dtype=np.int64)
            column = np.searchsorted(self.segments, labels).clip(0, len(self.segments) - 1)
            known = self.segments[column] == labels
            return labels, np.where(known, proba[rows, column], np.nan), proba
        best = proba.argmax(axis=1)
        return self.segments[best].astype(np.int64), proba[rows, best], proba


def fit_window(frame: pd.DataFrame, labels: np.ndarray, days: int, features: list[str],
               random_state: int = 0, k: int | None = None,
               core: np.ndarray | None = None) -> Window:
    """Scaling and k on these users; ``k`` None = chosen by 5-fold CV among K_CHOICES;
    ``core``: the core model's labels of their early features (the calibration)."""
    X = frame[features].to_numpy(dtype=np.float64, na_value=np.nan)
    logs = []
    for j, name in enumerate(features):
        column = X[:, j]
        known = column[~np.isnan(column)]
        if len(known) and known.min() >= 0 and pd.Series(known).skew() > SKEW:
            logs.append(name)
            X[:, j] = np.log1p(column)
    # mean and std over the users with a value (a one-day user has no gap between visits)
    present = ~np.isnan(X)
    counts = np.maximum(present.sum(axis=0), 1)
    center = np.where(present, X, 0.0).sum(axis=0) / counts
    scale = np.sqrt(np.where(present, (X - center) ** 2, 0.0).sum(axis=0) / counts)
    scale = np.where(scale > 0, scale, 1.0)
    Xs = np.nan_to_num((X - center) / scale, nan=0.0).astype(np.float32)
    y = np.asarray(labels).astype(np.int64)
    if k is None:
        k = _choose_k(Xs, y, random_state)
    core_labels, calibration = _calibrate(y, core)
    return Window(days=days, k=k, features=tuple(features), log_columns=tuple(logs),
                  center=center, scale=scale, X=Xs, y=y, core_labels=core_labels,
                  calibration=calibration)


def _calibrate(y: np.ndarray, core: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Rows: the core model's early labels; columns: the final segments; each row the
    shares of its users per segment, with one pseudo-user spread as the overall shares
    (a label seen on a handful of users does not answer with certainty)."""
    segments = np.unique(y)
    if core is None:
        return np.zeros(0, np.int64), np.zeros((0, len(segments)))
    core = np.asarray(core, dtype=np.int64)
    prior = np.bincount(np.searchsorted(segments, y), minlength=len(segments)) / len(y)
    labels = np.unique(core)
    counts = np.zeros((len(labels), len(segments)))
    np.add.at(counts, (np.searchsorted(labels, core), np.searchsorted(segments, y)), 1.0)
    return labels, (counts + prior) / (counts.sum(axis=1, keepdims=True) + 1.0)


def _choose_k(X: np.ndarray, y: np.ndarray, random_state: int) -> int:
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    smallest = int(np.min(np.unique(y, return_counts=True)[1]))
    if smallest < 2 or len(y) < 20:
        return min(K_CHOICES[0], len(y))
    splitter = StratifiedKFold(n_splits=min(5, smallest), shuffle=True,
                               random_state=random_state)
    scores = {}
    for k in K_CHOICES:
        if k >= len(y) * 0.8:
            continue
        scores[k] = float(cross_val_score(KNeighborsClassifier(n_neighbors=k), X, y,
                                          cv=splitter).mean())
    return max(scores, key=lambda k: (scores[k], -k)) if scores else K_CHOICES[0]


def agreement_interval(agreement: float, n: int) -> tuple[float, float]:
    """The 95% Wilson score interval of an agreement measured on ``n`` held-out users."""
    from personae.experiments.stats import wilson_interval

    return wilson_interval(round(agreement * n), n)


@dataclass(frozen=True)
class Validation:
    """Agreement with the full-history segment on held-out users: each predictor's, the
    most-common-segment baseline's, which predictor answers and whether the window
    abstains. ``agreement`` is the k-NN's (its name since the first file format)."""

    days: int
    k: int
    train_users: int
    holdout_users: int
    agreement: float
    majority_baseline: float
    core_model_baseline: float
    recall: dict[int, float]  # of the chosen predictor, per final segment
    core_model_edge: float = 0.0  # share the core model calls edge users (-1) on day N
    blend_agreement: float | None = None  # None: a file from before the blend
    chosen: str = "knn"
    abstains: bool = False

    @property
    def agreements(self) -> dict[str, float]:
        out = {"core": self.core_model_baseline, "knn": self.agreement}
        if self.blend_agreement is not None:
            out["blend"] = self.blend_agreement
        return out

    @property
    def chosen_agreement(self) -> float:
        return self.agreements[self.chosen]

    def as_dict(self) -> dict[str, Any]:
        out = {"days": self.days, "k": self.k, "train_users": self.train_users,
               "holdout_users": self.holdout_users, "agreement": round(self.agreement, 4),
               "majority_baseline": round(self.majority_baseline, 4),
               "core_model_baseline": round(self.core_model_baseline, 4),
               "core_model_edge": round(self.core_model_edge, 4),
               "recall": {str(s): round(r, 4) for s, r in self.recall.items()},
               "chosen": self.chosen, "chosen_agreement": round(self.chosen_agreement, 4),
               "abstains": self.abstains,
               "intervals": {p: [round(v, 4) for v in
                                 agreement_interval(a, self.holdout_users)]
                             for p, a in self.agreements.items()}}
        if self.blend_agreement is not None:
            out["blend_agreement"] = round(self.blend_agreement, 4)
        return out

    @classmethod
    def from_dict(cls, v: dict[str, Any]) -> Validation:
        blend = v.get("blend_agreement")
        return cls(days=int(v["days"]), k=int(v["k"]), train_users=int(v["train_users"]),
                   holdout_users=int(v["holdout_users"]), agreement=float(v["agreement"]),
                   majority_baseline=float(v["majority_baseline"]),
                   core_model_baseline=float(v["core_model_baseline"]),
                   recall={int(s): float(r) for s, r in v["recall"].items()},
                   core_model_edge=float(v.get("core_model_edge", 0.0)),
                   blend_agreement=None if blend is None else float(blend),
                   chosen=str(v.get("chosen", "knn")), abstains=bool(v.get("abstains", False)))


def choose(agreements: dict[str, float]) -> str:
    """The predictor of the highest held-out agreement (ties: ``PREDICTORS`` order)."""
    return max(PREDICTORS, key=lambda p: (agreements.get(p, -1.0), -PREDICTORS.index(p)))
