"""Everything the Spark engine takes from the embedded engine, in one place.

The Spark engine fits personae's own model on a driver sample and reuses its rules and
file formats; when the embedded surfaces move, only this module needs re-pointing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personae.cluster.mixture import memberships_summary
from personae.data.writers import staged_folder, write_frame
from personae.features.table import detect_id_column
from personae.model import NOVELTY_MARGIN, NOVELTY_QUANTILE, NOVELTY_ROWS, SegmentModel
from personae.pipeline import SegmentationResult, segment
from personae.profile.segments import feature_frame, segment_profiles

CENTROID_ALGORITHMS = ("kmeans", "minibatch")

__all__ = ["CENTROID_ALGORITHMS", "SegmentModel", "SegmentationResult", "detect_id_column",
           "fit_sample", "profiles", "set_centers", "staged_folder", "user_columns",
           "write_frame"]


def fit_sample(sample: pd.DataFrame, **options: Any) -> SegmentationResult:
    """The embedded run on the driver sample: cleaning, algorithm and K by its own rules."""
    return segment(sample, **options)


def set_centers(model: SegmentModel, centers: np.ndarray, inertia: float,
                sample: pd.DataFrame) -> None:
    """Write refined K-means centroids (already in segment order) into the model, and
    recompute what depends on them on the sample: its labels and the novelty threshold."""
    seg = model.segmenter_
    seg.cluster_centers_ = np.asarray(centers, dtype=np.float32)
    seg.inertia_ = float(inertia)
    X = model.transform(sample)
    model.labels_ = seg.predict(X)
    distances = seg.distance(X[:NOVELTY_ROWS])
    model.novelty_threshold_ = float(np.quantile(distances, NOVELTY_QUANTILE)
                                     * NOVELTY_MARGIN) if len(distances) else np.inf


def user_columns(model: SegmentModel, frame: pd.DataFrame, id_column: str
                 ) -> dict[str, np.ndarray]:
    """segment, then the algorithm's per-user columns (novel, probability, level_...), as
    the embedded run writes them into users_segmented (``pipeline.algorithm_outputs``,
    from the stable model surface: a loaded model has no fit-time attributes)."""
    seg = model.segmenter_
    X = model.transform(frame)
    columns: dict[str, np.ndarray] = {"segment": np.asarray(seg.predict(X), dtype=np.int32)}
    if hasattr(seg, "predict_proba"):
        columns.update(memberships_summary(np.asarray(seg.predict_proba(X)),
                                           seg.mixed_threshold))
    columns["novel"] = np.asarray(seg.distance(X) > model.novelty_threshold_)
    if hasattr(seg, "predict_levels"):
        levels = np.asarray(seg.predict_levels(X))
        for j in range(levels.shape[1]):
            columns[f"level_{j + 1}"] = levels[:, j]
    return columns


def profiles(model: SegmentModel, sample: pd.DataFrame, labels: np.ndarray,
             stability: dict[str, Any] | None = None) -> pd.DataFrame:
    """segment_profiles of the sample under its final labels (the embedded computation);
    ``stability``: the sample run's (its ``unstable_segments`` are flagged)."""
    table = segment_profiles(feature_frame(sample, model.preprocessor_, "input"), labels,
                             model.preprocessor_)
    unstable = set(stability["unstable_segments"]) if stability else set()
    table["unstable"] = table["segment"].isin(unstable)
    return table


def model_files(model: SegmentModel, folder: Path) -> dict[str, bytes]:
    """The saved model as bytes (model.json + arrays.npz): what travels to the executors."""
    model.save(folder)
    return {name: (folder / name).read_bytes() for name in ("model.json", "arrays.npz")}


def load_model_files(files: dict[str, bytes], folder: Path) -> SegmentModel:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return SegmentModel.load(folder)
