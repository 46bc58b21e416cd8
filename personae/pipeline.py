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
from personae.data.readers import read_table
from personae.data.writers import staged_folder, write_frame
from personae.features.table import ROW_ID, Impute, Scaler, user_ids
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

    @property
    def n_segments(self) -> int:
        return int(self.model.n_clusters_)

    @property
    def sizes(self) -> pd.Series:
        return pd.Series(self.labels).value_counts().sort_index().rename("size")

    @property
    def users(self) -> pd.DataFrame:
        """One row per user: id, segment, then the input columns."""
        return users_table(self.data, self.ids, self.labels)

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
            self.model.save(staging / "model")
            info = dict(self.info)
            info["timings_seconds"] = {**info["timings_seconds"],
                                       "write": round(time.perf_counter() - started, 3)}
            (staging / "run.json").write_text(json.dumps(info, indent=2, default=_jsonable),
                                              encoding="utf-8")
        return folder


def users_table(data: pd.DataFrame, ids: pd.Series, labels: np.ndarray) -> pd.DataFrame:
    rest = data.drop(columns=[ids.name], errors="ignore")
    rest = rest.rename(columns={c: f"input_{c}" for c in rest.columns
                                if c in ("segment", ids.name)})
    front = pd.DataFrame({str(ids.name): ids.to_numpy(), "segment": labels})
    return pd.concat([front, rest.reset_index(drop=True)], axis=1)


def segment(
    data: pd.DataFrame | str | Path,
    *,
    k: int | str = "auto",
    k_range: tuple[int, int] = (2, 10),
    features: list[str] | None = None,
    id_column: str | None = None,
    impute: Impute = "median",
    log_transform: bool = True,
    scaler: Scaler = "standard",
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
        frame = data.reset_index(drop=True)
    timings["read"] = time.perf_counter() - started
    log.info("read %d users x %d columns from %s", len(frame), frame.shape[1], source)

    model = SegmentModel(k=k, k_range=k_range, features=features, id_column=id_column,
                         impute=impute, log_transform=log_transform, scaler=scaler,
                         random_state=random_state).fit(frame, source)
    timings.update(model.timings_)

    started = time.perf_counter()
    log.info("profiling %d segments", model.n_clusters_)
    ids = user_ids(frame, model.id_column_, source)
    profiles = segment_profiles(feature_frame(frame, model.preprocessor_, source),
                                model.labels_, model.preprocessor_)
    timings["profile"] = time.perf_counter() - started

    selection = model.k_selection_
    k_table = selection.table if selection is not None else None
    info = _run_info(source, frame, model, ids, timings)
    return SegmentationResult(source=source, data=frame, ids=ids, labels=model.labels_,
                              profiles=profiles, k_table=k_table, model=model, info=info)


def _run_info(source: str, frame: pd.DataFrame, model: SegmentModel, ids: pd.Series,
              timings: dict[str, float]) -> dict[str, Any]:
    selection = model.k_selection_
    sizes = np.bincount(model.labels_, minlength=model.n_clusters_)
    chosen_row = (selection.table[selection.table["chosen"]].iloc[0].to_dict()
                  if selection is not None else {})
    return {
        "personae_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "input": {"source": source, "users": len(frame), "columns": [str(c) for c in
                                                                      frame.columns]},
        "config": {"k": model.k, "k_range": list(model.k_range), "features": model.features,
                   "id_column": model.id_column, "impute": model.impute,
                   "log_transform": model.log_transform, "scaler": model.scaler,
                   "algorithm": model.algorithm, "seed": model.random_state},
        "id_column": model.id_column_ or ROW_ID,
        "features_used": model.feature_names,
        "cleaning": [d.as_dict() for d in model.preprocessor_.decisions_],
        "k_selection": None if selection is None else {
            "chosen_k": selection.chosen_k, "knee_k": selection.knee_k, "rule": selection.rule,
            "search_sample_users": selection.search_rows,
            "silhouette_sample_users": selection.silhouette_rows,
        },
        "segments": {"k": int(model.n_clusters_), "sizes": sizes.tolist(),
                     "shares": (sizes / sizes.sum()).round(6).tolist()},
        "metrics": {**{k: v for k, v in chosen_row.items() if k not in ("k", "chosen")},
                    "inertia_all_users": model.segmenter_.inertia_},
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
