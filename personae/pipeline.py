"""``segment()``: read, clean, choose K, cluster, profile; and the result it returns."""

from __future__ import annotations

import json
import logging
import platform
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personae._version import __version__
from personae.cluster.hierarchy import taxonomy
from personae.cluster.mixture import memberships_summary
from personae.data.readers import read_table
from personae.data.writers import staged_folder, write_frame
from personae.features.table import ROW_ID, Impute, Scaler, text_columns, user_ids
from personae.model import SegmentModel
from personae.profile.segments import feature_frame, segment_profiles, top_features

log = logging.getLogger(__name__)

LIBRARIES = ("numpy", "pandas", "pyarrow", "scikit-learn", "scipy", "duckdb")


@dataclass(frozen=True)
class SegmentationResult:
    """What a segmentation run produced; ``save(folder)`` writes it all."""

    source: str
    data: pd.DataFrame = field(repr=False)
    ids: pd.Series = field(repr=False)
    labels: np.ndarray = field(repr=False)
    profiles: pd.DataFrame = field(repr=False)
    k_table: pd.DataFrame | None = field(repr=False)
    model: SegmentModel = field(repr=False)
    info: dict[str, Any] = field(repr=False)
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def algorithm(self) -> dict[str, Any]:
        """Which algorithm ran, with every parameter (automatic ones filled in), and why."""
        return dict(self.info["algorithm"])

    @property
    def memberships(self) -> pd.DataFrame | None:
        """Probability of every segment per user (Gaussian mixtures; else None)."""
        return self.extra.get("memberships")

    @property
    def outliers(self) -> np.ndarray:
        """Edge users (segment -1 of the density algorithms) as a boolean mask."""
        return np.asarray(self.labels) < 0

    @property
    def novel(self) -> np.ndarray:
        """Users farther from every segment than 99.9% of users (x 1.5)."""
        return np.asarray(self.extra["novel"])

    @property
    def hierarchy(self) -> dict[str, Any] | None:
        """Taxonomy nodes and dendrogram data (hierarchical; else None)."""
        return self.extra.get("hierarchy")

    @property
    def stability(self) -> dict[str, Any] | None:
        return self.info.get("stability")

    @property
    def algorithm_table(self) -> pd.DataFrame | None:
        """The candidates ``--algorithm auto`` compared (else None)."""
        return self.extra.get("algorithm_table")

    @property
    def n_segments(self) -> int:
        return int(self.model.n_clusters_)

    @property
    def sizes(self) -> pd.Series:
        return pd.Series(self.labels).value_counts().sort_index().rename("size")

    @property
    def users(self) -> pd.DataFrame:
        """One row per user: id, segment, then the input columns."""
        return users_table(self.data, self.ids, self.labels, self.extra.get("user_columns"))

    def top_features(self, n: int = 3) -> dict[int, pd.DataFrame]:
        return top_features(self.profiles, n)

    def save(self, folder: str | Path) -> Path:
        """Write users_segmented.csv/.parquet, segment_profiles.csv, k_selection.csv,
        model/ and run.json into ``folder``, which appears only once all are written."""
        started = time.perf_counter()
        folder = Path(folder)
        with staged_folder(folder) as staging:
            users = self.users
            write_frame(users, staging / "users_segmented.csv")
            write_frame(users, staging / "users_segmented.parquet")
            self.profiles.to_csv(staging / "segment_profiles.csv", index=False)
            if self.k_table is not None:
                self.k_table.to_csv(staging / "k_selection.csv", index=False)
            if self.memberships is not None:
                write_frame(self.memberships, staging / "memberships.parquet")
            if self.algorithm_table is not None:
                self.algorithm_table.to_csv(staging / "algorithm_selection.csv", index=False)
            if self.hierarchy is not None:
                (staging / "hierarchy.json").write_text(
                    json.dumps(self.hierarchy, indent=1, default=_jsonable), encoding="utf-8")
            self.model.save(staging / "model")
            info = dict(self.info)
            info["timings_seconds"] = {**info["timings_seconds"],
                                       "write": round(time.perf_counter() - started, 3)}
            (staging / "run.json").write_text(json.dumps(info, indent=2, default=_jsonable),
                                              encoding="utf-8")
        return folder


def users_table(data: pd.DataFrame, ids: pd.Series, labels: np.ndarray,
                extra: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """id, segment, the algorithm's own columns (probability..., novel, level_1...), then
    the input columns (renamed input_<name> where they would clash)."""
    front = pd.DataFrame({str(ids.name): ids.to_numpy(), "segment": labels, **(extra or {})})
    rest = data.drop(columns=[ids.name], errors="ignore")
    rest = rest.rename(columns={c: f"input_{c}" for c in rest.columns
                                if c in front.columns})
    return pd.concat([front, rest.reset_index(drop=True)], axis=1)


def segment(
    data: pd.DataFrame | str | Path,
    *,
    k: int | str = "auto",
    k_range: tuple[int, int] = (2, 10),
    features: list[str] | None = None,
    categorical: list[str] | None = None,
    id_column: str | None = None,
    impute: Impute = "median",
    log_transform: bool = True,
    scaler: Scaler = "standard",
    algorithm: str = "auto",
    params: dict[str, Any] | None = None,
    random_state: int = 0,
) -> SegmentationResult:
    """Segment a user table (a DataFrame or a CSV/Parquet path, one row per user)."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    if isinstance(data, (str, Path)):
        source = str(data)
        frame = read_table(data)
    else:
        source = "DataFrame"
        frame = text_columns(data.reset_index(drop=True), source)
    timings["read"] = time.perf_counter() - started
    log.info("read %d users x %d columns from %s", len(frame), frame.shape[1], source)

    model = SegmentModel(k=k, k_range=k_range, features=features, categorical=categorical,
                         id_column=id_column,
                         impute=impute, log_transform=log_transform, scaler=scaler,
                         algorithm=algorithm, params=params,
                         random_state=random_state).fit(frame, source)
    timings.update(model.timings_)

    started = time.perf_counter()
    log.info("profiling %d segments", model.n_clusters_)
    ids = user_ids(frame, model.id_column_, source)
    profiles = segment_profiles(feature_frame(frame, model.preprocessor_, source),
                                model.labels_, model.preprocessor_)
    unstable = set(model.stability_.unstable_segments) if model.stability_ else set()
    profiles["unstable"] = profiles["segment"].isin(unstable)
    timings["profile"] = time.perf_counter() - started

    started = time.perf_counter()
    extra = algorithm_outputs(model, frame, ids, source)
    timings["algorithm_outputs"] = time.perf_counter() - started
    selection = model.k_selection_
    k_table = selection.table if selection is not None else None
    info = _run_info(source, frame, model, ids, timings)
    info["segments"]["novel_users"] = int(np.sum(extra["novel"]))
    if "mixed" in extra["user_columns"]:
        info["segments"]["mixed_users"] = int(np.sum(extra["user_columns"]["mixed"]))
    return SegmentationResult(source=source, data=frame, ids=ids, labels=model.labels_,
                              profiles=profiles, k_table=k_table, model=model, info=info,
                              extra=extra)


def algorithm_outputs(model: SegmentModel, frame: pd.DataFrame, ids: pd.Series,
                      source: str) -> dict[str, Any]:
    """Per-user columns and files that depend on the algorithm (soft memberships, novelty,
    taxonomy levels, the auto comparison)."""
    X = model.transform(frame, source)
    seg = model.segmenter_
    columns: dict[str, np.ndarray] = {}
    out: dict[str, Any] = {"user_columns": columns}
    if hasattr(seg, "predict_proba"):
        proba = seg.predict_proba(X)
        columns.update(memberships_summary(proba, seg.mixed_threshold))
        memberships = pd.DataFrame(proba, columns=[f"segment_{j}" for j in
                                                   range(proba.shape[1])])
        memberships.insert(0, str(ids.name), ids.to_numpy())
        out["memberships"] = memberships
    novel = np.asarray(seg.distance(X) > model.novelty_threshold_)
    columns["novel"] = novel
    out["novel"] = novel
    if hasattr(seg, "predict_levels"):
        levels = seg.predict_levels(X)
        for j in range(levels.shape[1]):
            columns[f"level_{j + 1}"] = levels[:, j]
        out["hierarchy"] = {"levels": ["broad", "category", "specific"],
                            "segment_level": 2, "nodes": taxonomy(levels),
                            "dendrogram": seg.dendrogram_data()}
    if model.algorithm_choice_ is not None:
        out["algorithm_table"] = model.algorithm_choice_.table
    return out


def _run_info(source: str, frame: pd.DataFrame, model: SegmentModel, ids: pd.Series,
              timings: dict[str, float]) -> dict[str, Any]:
    selection = model.k_selection_
    sizes = np.bincount(model.labels_[model.labels_ >= 0], minlength=model.n_clusters_)
    seg = model.segmenter_
    choice = model.algorithm_choice_
    why = list(seg.why_)
    if choice is not None:
        why.insert(0, f"auto: {choice.why}")
    chosen_row = (selection.table[selection.table["chosen"]].iloc[0].to_dict()
                  if selection is not None else {})
    return {
        "personae_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "input": {"source": source, "users": len(frame), "columns": [str(c) for c in
                                                                      frame.columns]},
        "config": {"k": model.k, "k_range": list(model.k_range), "features": model.features,
                   "categorical": model.categorical,
                   "id_column": model.id_column, "impute": model.impute,
                   "log_transform": model.log_transform, "scaler": model.scaler,
                   "algorithm": model.algorithm, "params": model.params,
                   "seed": model.random_state},
        "algorithm": {"name": seg.name, "params": seg.resolved_params_, "why": why,
                      "selection_rule": choice.rule if choice is not None else None,
                      "selection_sample_users": choice.sample_users if choice else None},
        "stability": model.stability_.as_dict() if model.stability_ is not None else None,
        "consistency": model.consistency_,
        "id_column": model.id_column_ or ROW_ID,
        "features_used": model.feature_names,
        "cleaning": [d.as_dict() for d in model.preprocessor_.decisions_],
        "k_selection": None if selection is None else {
            "chosen_k": selection.chosen_k, "knee_k": selection.knee_k, "rule": selection.rule,
            "search_sample_users": selection.search_rows,
            "silhouette_sample_users": selection.silhouette_rows,
        },
        "segments": {"k": int(model.n_clusters_), "sizes": sizes.tolist(),
                     "shares": (sizes / len(model.labels_)).round(6).tolist(),
                     "edge_users": int(np.sum(model.labels_ < 0)),
                     "novel_users": 0},
        "metrics": {**{k: v for k, v in chosen_row.items() if k not in ("k", "chosen")},
                    **({"inertia_all_users": seg.inertia_} if hasattr(seg, "inertia_")
                       else {})},
        "library_versions": {"python": platform.python_version(),
                             **{name: _version(name) for name in LIBRARIES}},
        "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
    }


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
