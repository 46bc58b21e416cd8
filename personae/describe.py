"""What a run says about itself beside the personas: the per-user columns and files of the
algorithm, the table that decided K, the persona level's stability, journeys, the map of
users, and run.json's record."""

from __future__ import annotations

import logging
import platform
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd

from personae._version import __version__
from personae.cluster._base import MIN_SEGMENT_USERS, NOISE
from personae.cluster.hierarchy import taxonomy
from personae.cluster.levels import assign_levels, persona_levels
from personae.cluster.validate import bootstrap_stability
from personae.config import RunConfig
from personae.data.formats import RUN_FORMAT, RUN_FORMAT_VERSION
from personae.features.semantics import Semantics
from personae.features.table import ROW_ID
from personae.inputs import RunInput
from personae.model import SegmentModel, sample_rows
from personae.profile.journeys import journeys as build_journeys
from personae.profile.maps import MAP_SAMPLE, project, tsne_library

log = logging.getLogger(__name__)


LIBRARIES = ("numpy", "pandas", "pyarrow", "scikit-learn", "scipy", "duckdb")


def sequence_profiles_of(table: Any, ids: pd.Series, labels: np.ndarray) -> Any:
    """Per segment: medoid sequences, over-represented n-grams, start and end events."""
    from personae.features.sequence_profiles import sequence_profiles

    rows = _rows_of(table, ids)
    return sequence_profiles(table.sequences.take(rows), labels, table.vectors[rows])


def _rows_of(table: Any, ids: pd.Series) -> np.ndarray:
    """Row of each of the run's users in the sequence table."""
    position = {u: i for i, u in enumerate(table.sequences.ids.tolist())}
    return np.array([position[u] for u in ids.tolist()], dtype=np.int64)


def _aligned_vectors(table: Any, ids: pd.Series) -> np.ndarray:
    return np.asarray(table.vectors)[_rows_of(table, ids)]


def levels_stability(model: SegmentModel, X: np.ndarray, labels: np.ndarray) -> Any:
    """How stable the persona level is: refitted on bootstrap samples of the users and each
    refit placing them by its own centres (nearest persona centre, edge when too far)."""
    cfg = model.settings_
    n_personas = model.n_clusters_
    rows = model.order_[:cfg.samples.stability]
    return bootstrap_stability(
        lambda Xs: _Placed(persona_levels(Xs, np.zeros(len(Xs), dtype=int), k=n_personas,
                                          random_state=cfg.random_state, checks=False,
                                          rules=cfg.levels)),
        X[rows], labels[rows], random_state=cfg.random_state, segments=range(n_personas))


class _Placed:
    """A refitted persona level as the stability check needs it: ``predict``."""

    def __init__(self, levels: Any) -> None:
        self.info = levels.to_dict()

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(assign_levels(X, self.info)["persona"])


def tiny_segment_notes(labels: np.ndarray, k: int) -> list[str]:
    sizes = np.bincount(labels[labels >= 0], minlength=k)
    tiny = [int(s) for s in np.flatnonzero(sizes < MIN_SEGMENT_USERS)]
    if not tiny:
        return []
    note = (f"segment {', '.join(map(str, tiny))} "
            f"{'has' if len(tiny) == 1 else 'have'} fewer than {MIN_SEGMENT_USERS} users "
            f"({', '.join(str(int(sizes[s])) for s in tiny)}): outliers rather than a "
            "persona; a density method (hdbscan, dbscan) keeps such users apart as edge users")
    log.warning(note)
    return [note]


def algorithm_outputs(model: SegmentModel, X: np.ndarray, ids: pd.Series) -> dict[str, Any]:
    """Per-user columns (the model's assignment of the training users, beside ``segment``)
    and the files that depend on the algorithm (soft memberships, the taxonomy, the auto
    comparison)."""
    seg = model.segmenter_
    assigned = model.assignments_
    columns = {str(c): assigned[c].to_numpy() for c in assigned.columns
               if c not in ("segment", "persona")}
    out: dict[str, Any] = {"user_columns": columns, "novel": columns["novel"]}
    if hasattr(seg, "predict_proba"):
        proba = seg.predict_proba(X)
        memberships = pd.DataFrame(proba, columns=[f"segment_{j}" for j in
                                                   range(proba.shape[1])])
        memberships.insert(0, str(ids.name), ids.to_numpy())
        out["memberships"] = memberships
    if "level_1" in columns:
        levels = np.column_stack([columns["level_1"], columns["level_2"], columns["level_3"]])
        out["hierarchy"] = {"levels": ["broad", "category", "specific"],
                            "segment_level": 2, "nodes": taxonomy(levels),
                            "dendrogram": seg.dendrogram_data()}
    if model.algorithm_choice_ is not None:
        out["algorithm_table"] = model.algorithm_choice_.table
    return out


def decision_table(model: SegmentModel) -> pd.DataFrame:
    """The table that decided the number of segments (k_selection.csv), whatever decided
    it: the K vote, a Gaussian mixture's BIC per K and covariance, or, for methods that find
    the number themselves, their parameters and what they gave."""
    seg = model.segmenter_
    if model.k_selection_ is not None:
        return model.k_selection_.table
    if getattr(seg, "bic_table_", None):
        table = pd.DataFrame(seg.bic_table_)
        table["chosen"] = (table["k"] == seg.n_segments_) & \
            (table["covariance_type"] == seg.covariance_type_)
        return table
    labels = model.natural_labels_
    row = {"algorithm": seg.name, "decided_by": "given" if isinstance(model.settings_.k, int)
           else "the algorithm", **{k: v for k, v in seg.resolved_params_.items()
                                    if k not in ("random_state", "categorical_blocks")},
           "segments": int(seg.n_segments_), "edge_users": int(np.sum(labels == NOISE)),
           "chosen": True}
    return pd.DataFrame([{k: (str(v) if isinstance(v, (list, tuple, dict)) else v)
                          for k, v in row.items()}])


def run_journeys(read: RunInput, ids: pd.Series, labels: np.ndarray) -> dict[str, Any] | None:
    """Funnels and paths per segment for event-log runs with an event column; lifecycle
    journeys (first order, second, ...) for a log without one."""
    if read.rows is None:
        return None
    from personae.features.events import steps_of

    segments = pd.Series(labels, index=ids.astype(str).to_numpy())
    mapping = read.provenance["mapping"]
    steps = steps_of(read.rows, mapping)
    if steps is None:
        from personae.profile.journeys import lifecycle

        noun = "order" if read.provenance.get("purchases") else "visit"
        return lifecycle(read.rows, segments, mapping, noun=noun)
    return build_journeys(steps, segments)


def user_map_of(run: RunConfig, X: np.ndarray, ids: pd.Series, labels: np.ndarray,
              sequences: Any = None) -> pd.DataFrame | None:
    """2-D coordinates of a sample of users for the report's map (PCA or UMAP): of the
    model's feature space, or of the user vectors when the run segmented on embeddings
    alone (the space the segments were found in, before any UMAP reduction)."""
    if run.report.map == "none":
        return None
    seed = run.segmentation.random_state
    rows = np.sort(sample_rows(ids, min(len(ids), MAP_SAMPLE), seed))
    space, values = "the model's feature space (after cleaning, log transform and scaling)", X
    spec = run.input.sequences
    if sequences is not None and spec is not None and spec.representation == "embedding":
        values = _aligned_vectors(sequences, ids)
        space = (f"the {spec.embed} user vectors ({values.shape[1]} dimensions) the segments "
                 "were found in")
    points, method, seconds = project(values[rows], run.report.map, seed)
    return pd.DataFrame({str(ids.name): ids.to_numpy()[rows], "segment": labels[rows],
                         "x": points[:, 0], "y": points[:, 1]}).assign(
        method=method, seconds=round(seconds, 3), space=space, seed=seed,
        **({"library": tsne_library()} if method == "t-SNE" else {}))


def run_info(run: RunConfig, source: str, frame: pd.DataFrame, model: SegmentModel,
              labels: np.ndarray, checks: dict[str, Any], stability: Any, notes: list[str],
              provenance: dict[str, Any], semantics: Semantics, timings: dict[str, float],
              extra: dict[str, Any]) -> dict[str, Any]:
    from personae.features.columns import column_roles
    from personae.features.table import missing_shares

    selection = model.k_selection_
    sizes = np.bincount(labels[labels >= 0], minlength=model.n_clusters_)
    seg = model.segmenter_
    choice = model.algorithm_choice_
    why = list(seg.why_) + notes
    if choice is not None:
        why.insert(0, f"auto: {choice.why}")
    chosen_row = (selection.table[selection.table["chosen"]].iloc[0].to_dict()
                  if selection is not None else {})
    segments: dict[str, Any] = {
        "k": int(model.n_clusters_), "sizes": sizes.tolist(),
        "shares": (sizes / len(labels)).round(6).tolist(),
        "edge_users": int(np.sum(labels == NOISE)),
        "novel_users": int(np.sum(extra["novel"]))}
    if "mixed" in extra["user_columns"]:
        segments["mixed_users"] = int(np.sum(extra["user_columns"]["mixed"]))
    return {
        "format": RUN_FORMAT,
        "format_version": RUN_FORMAT_VERSION,
        "personae_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "input": {"source": source, "users": len(frame),
                  "columns": [str(c) for c in frame.columns], **provenance},
        "config": run.document(),
        "algorithm": {"name": seg.name, "params": seg.resolved_params_, "why": why,
                      "selection_rule": choice.rule if choice is not None else None,
                      "selection_sample_users": choice.sample_users if choice else None},
        "stability": stability.as_dict() if stability is not None else None,
        "consistency": checks,
        "id_column": model.id_column_ or ROW_ID,
        "features_used": model.feature_names,
        # every input column: drives, describes or left out, and why (none goes silently)
        "columns": column_roles(model.preprocessor_, asked=run.segmentation.features,
                                by_role=model.settings_.features is not None,
                                semantics=semantics, missing=missing_shares(frame)),
        "feature_meanings": {name: _meaning(semantics, name)
                             for name in model.preprocessor_.numeric_
                             + sorted(model.preprocessor_.categorical_)},
        "cleaning": [d.as_dict() for d in model.preprocessor_.decisions_],
        "k_selection": None if selection is None else {
            "chosen_k": selection.chosen_k, "knee_k": selection.knee_k, "rule": selection.rule,
            "search_sample_users": selection.search_rows,
            "silhouette_sample_users": selection.silhouette_rows,
        },
        "segments": segments,
        "metrics": {**{k: v for k, v in chosen_row.items() if k not in ("k", "chosen")},
                    **({"inertia_all_users": seg.inertia_} if hasattr(seg, "inertia_")
                       else {})},
        "library_versions": {"python": platform.python_version(),
                             **{name: _version(name) for name in LIBRARIES}},
        "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
    }


def _meaning(semantics: Semantics, name: str) -> dict[str, Any]:
    m = semantics.describe(name)
    return {"label": m.label, "unit": m.unit, "high": m.high, "low": m.low,
            "themes": list(m.themes), "pain_when": m.pain_when, "source": m.source}


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
