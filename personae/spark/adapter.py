"""Everything the Spark engine takes from the embedded engine, in one place.

The Spark engine fits personae's own model on a driver sample and reuses its rules and
file formats; when the embedded surfaces move, only this module needs re-pointing.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personae.cluster._base import NOISE
from personae.cluster.hierarchy import taxonomy
from personae.cluster.levels import assign_levels, broad_groups
from personae.config import SegmentSettings, build
from personae.data.writers import staged_folder, to_json, write_frame
from personae.features.semantics import Semantics
from personae.features.table import detect_id_column
from personae.model import SegmentModel
from personae.monitor.reference import build_reference
from personae.pipeline import SegmentationResult, segment
from personae.profile.personas import personas_document
from personae.profile.rfm import rfm_crosstab
from personae.profile.segments import (
    SegmentStats,
    model_space,
    profiles_from_stats,
)

CENTROID_ALGORITHMS = ("kmeans", "minibatch")

__all__ = ["CENTROID_ALGORITHMS", "NOISE", "SegmentModel",
           "SegmentStats", "SegmentationResult", "assign_levels", "broad_groups",
           "build_reference", "detect_id_column", "fit_sample",
           "model_space", "personas_document", "profiles_from_stats", "rfm_crosstab",
           "staged_folder", "taxonomy", "to_json", "user_columns", "with_centers",
           "with_levels", "with_mixture", "with_tree", "write_frame"]


def fit_sample(sample: pd.DataFrame, meanings: dict[str, Any] | None = None,
               report: Any = None, **options: Any) -> SegmentationResult:
    """The embedded run on the driver sample: cleaning, algorithm and K by its own rules.
    ``meanings``: the sample is an event log's features, with these meanings, and
    ``report`` its event report; as in the embedded event run they word the personas (the
    people named after the log's user column, purchase words only for a purchase log), and
    persona levels bring the RFM map (its cut points from the sample)."""
    if meanings is None:
        return segment(sample, **options)
    from personae.profile.names import people_noun

    given = options.pop("semantics", None)
    config = options.get("config")
    noun = people_noun(report.mapping.get("user") if report is not None else None,
                       config.report.noun if config is not None else None)
    semantics = Semantics(user={**meanings, **(dict(given.user) if given else {})},
                          noun=noun, purchases=bool(getattr(report, "purchases", True)))
    if options.get("rfm") is None:  # the sample is an event log's users: as its run would
        settings = {k: v for k, v in options.items() if k in SegmentSettings.model_fields}
        options["rfm"] = build(SegmentSettings, settings, "spark").levels_on
    return segment(sample, semantics=semantics, **options)


def with_centers(model: SegmentModel, centers: np.ndarray, inertia: float) -> Any:
    """A copy of the model's K-means segmenter with refined centroids (in segment order)."""
    seg = copy.deepcopy(model.segmenter_)
    seg.cluster_centers_ = np.asarray(centers, dtype=np.float32)
    seg.inertia_ = float(inertia)
    return seg


def with_tree(model: SegmentModel, centers: np.ndarray, children: np.ndarray,
              leaf: np.ndarray, sizes: np.ndarray, cost: float) -> Any:
    """A copy of the model's bisecting segmenter with the tree Spark fitted (leaves numbered
    as Spark did, ``sizes`` per leaf, its training ``cost``), renumbered by size, largest
    first."""
    seg = copy.deepcopy(model.segmenter_)
    seg.set_tree(centers, children, leaf)
    seg.renumber(sizes)
    seg.inertia_ = float(cost)
    return seg


def with_mixture(model: SegmentModel, weights: np.ndarray, means: np.ndarray,
                 covariances: np.ndarray, precisions_cholesky: np.ndarray) -> Any:
    """A copy of the model's Gaussian mixture with a full-covariance fit (segment order)."""
    seg = copy.deepcopy(model.segmenter_)
    seg.weights_, seg.means_ = np.asarray(weights), np.asarray(means)
    seg.covariances_ = np.asarray(covariances)
    seg.precisions_cholesky_ = np.asarray(precisions_cholesky)
    seg.covariance_type_ = "full"
    seg.converged_ = True
    return seg


def with_levels(model: SegmentModel, centers: np.ndarray, far_distance: np.ndarray,
                persona_to_broad: dict[int, int]) -> dict[str, Any]:
    """The model's levels.json state with refined persona levels (centres in persona order,
    far limits, persona -> broad); the sizes follow once everyone is placed."""
    levels = dict(model.levels_ or {})
    levels["centers"] = np.asarray(centers, dtype=float).round(6).tolist()
    levels["far_distance"] = [None if not np.isfinite(v) else round(float(v), 6)
                              for v in far_distance]
    levels["persona_to_broad"] = {str(k): int(v) for k, v in persona_to_broad.items()}
    return levels


def user_columns(model: SegmentModel, frame: pd.DataFrame, id_column: str
                 ) -> dict[str, np.ndarray]:
    """segment, then the columns the embedded run writes beside it into users_segmented:
    ``SegmentModel.assign``, the one assignment (names are not part of users_segmented)."""
    assigned = model.assign(frame)
    return {str(c): assigned[c].to_numpy() for c in assigned.columns if c != "persona"}


def model_files(model: SegmentModel, folder: Path) -> dict[str, bytes]:
    """The saved model as bytes (model.json, arrays.npz and levels.json / rfm.json where the
    model has them): what travels to the executors."""
    model.save(folder)
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


def load_model_files(files: dict[str, bytes], folder: Path) -> SegmentModel:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return SegmentModel.load(folder)
