"""``segment()``: the stages of a run in order, and the result they hand to the report.

    RunConfig -> read (table or event log) -> SegmentModel.fit_transform -> checks
    (consistency, stability) -> profiles -> personas -> journeys -> map -> SegmentationResult

Nothing here goes back through the disk: the report renders the result from memory, and
``save`` writes it once (run.json last, listing every file with its sha256).
"""

from __future__ import annotations

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
from personae.cluster._base import MIN_SEGMENT_USERS, NOISE
from personae.cluster.hierarchy import taxonomy
from personae.cluster.levels import assign_levels, persona_levels
from personae.cluster.validate import bootstrap_stability, consistency, segmenter_stability
from personae.config import InputConfig, RunConfig, SegmentSettings, build, merged
from personae.data.formats import RUN_FORMAT, RUN_FORMAT_VERSION
from personae.data.readers import read_table
from personae.data.run_folder import save_run
from personae.features.semantics import Semantics
from personae.features.table import ROW_ID, detect_id_column, text_columns, user_ids
from personae.model import SegmentModel, sample_rows
from personae.monitor.reference import Reference, build_reference
from personae.profile.journeys import journeys as build_journeys
from personae.profile.journeys import with_sequences
from personae.profile.maps import MAP_SAMPLE, project
from personae.profile.personas import personas_document
from personae.profile.segments import feature_frame, segment_profiles, top_features

log = logging.getLogger(__name__)

LIBRARIES = ("numpy", "pandas", "pyarrow", "scikit-learn", "scipy", "duckdb")


@dataclass(frozen=True)
class SegmentationResult:
    """Everything one run produced, in memory; ``save(folder)`` writes it all and the report
    renders it (``personae.report.write_report(result, folder)``) without reading the input.
    """

    source: str
    data: pd.DataFrame = field(repr=False)
    ids: pd.Series = field(repr=False)
    labels: np.ndarray = field(repr=False)
    profiles: pd.DataFrame = field(repr=False)
    k_table: pd.DataFrame | None = field(repr=False)
    model: SegmentModel = field(repr=False)
    info: dict[str, Any] = field(repr=False)
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    config: RunConfig = field(default_factory=RunConfig, repr=False)
    personas: dict[str, Any] = field(default_factory=dict, repr=False)
    journeys: dict[str, Any] | None = field(default=None, repr=False)
    user_map: pd.DataFrame | None = field(default=None, repr=False)
    semantics: Semantics = field(default_factory=Semantics, repr=False)
    reference: Reference | None = field(default=None, repr=False)

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

    def segments_summary(self) -> list[dict[str, Any]]:
        """Per segment: id, persona name, size (users), share (what a service answers with)."""
        return segments_summary(self.personas, self.sizes)

    def save(self, folder: str | Path) -> Path:
        """Write the run folder (``personae.data.run_folder.save_run``); read it back with
        ``personae.load_run``."""
        return save_run(self, folder)


def segments_summary(personas: dict[str, Any], sizes: pd.Series) -> list[dict[str, Any]]:
    """segments.json's rows: per persona of ``personas`` (personas.json), its segment, name,
    size (``sizes``: users per segment) and share of all users."""
    total = int(sizes.sum())
    return [{"segment": int(p["segment"]), "persona": p["name"],
             "size": int(sizes.get(p["segment"], 0)),
             "share": round(float(sizes.get(p["segment"], 0)) / total, 6)}
            for p in personas.get("personas", [])]


def users_table(data: pd.DataFrame, ids: pd.Series, labels: np.ndarray,
                extra: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """id, segment, the algorithm's own columns (probability..., novel, level_1...), then
    the input columns (renamed input_<name> where they would clash)."""
    front = pd.DataFrame({str(ids.name): ids.to_numpy(), "segment": labels, **(extra or {})})
    rest = data.drop(columns=[ids.name], errors="ignore")
    rest = rest.rename(columns={c: f"input_{c}" for c in rest.columns
                                if c in front.columns})
    return pd.concat([front, rest.reset_index(drop=True)], axis=1)


def run_config(data: Any = None, config: RunConfig | None = None,
               **settings: Any) -> RunConfig:
    """The RunConfig of a call: ``config`` with the input path and segmentation keywords
    laid over it (the keywords are SegmentSettings' fields)."""
    base = (config or RunConfig()).document()
    overrides: dict[str, Any] = {"segmentation": settings}
    if isinstance(data, (str, Path)):
        overrides["input"] = {"path": str(data)}
    unknown = sorted(set(settings) - set(SegmentSettings.model_fields))
    if unknown:
        build(SegmentSettings, {k: settings[k] for k in unknown}, "segment()")
    return build(RunConfig, merged(base, overrides), "segment()")


def segment(data: pd.DataFrame | str | Path | None = None, *, config: RunConfig | None = None,
            semantics: Semantics | None = None, **settings: Any) -> SegmentationResult:
    """Segment users: a user table (a DataFrame or a CSV/Parquet path, one row per user), or
    an event log when ``config.input.events`` is set. ``settings``: any field of
    :class:`~personae.config.SegmentSettings` (``k``, ``algorithm``, ``random_state``, ...).
    """
    run = run_config(data, config, **settings)
    cfg = run.segmentation
    timings: dict[str, float] = {}
    started = time.perf_counter()
    read = _read(data, run.input, cfg.random_state)
    frame, source, provenance, sequences = read.frame, read.source, read.provenance, \
        read.sequences
    timings["read"] = time.perf_counter() - started
    log.info("read %d users x %d columns from %s", len(frame), frame.shape[1], source)
    semantics = _semantics(run, semantics, read.meanings)

    id_column = cfg.id_column if cfg.id_column is not None else \
        detect_id_column([str(c) for c in frame.columns])
    ids = user_ids(frame, id_column, source)
    levels_on = cfg.levels_on
    if levels_on and cfg.features is None:
        # behaviour drives the split; timing shares and context only describe the personas
        from personae.features.semantics import feature_roles

        roles = feature_roles([str(c) for c in frame.columns if c != id_column], semantics)
        cfg = cfg.model_copy(update={"features": list(roles.drive)})
    if cfg.rfm is None:  # the RFM map speaks of transactions: an event log's
        cfg = cfg.model_copy(update={"rfm": levels_on and provenance.get("kind") == "events"})
    model = SegmentModel(cfg)
    X = model.fit_transform(frame, source, ids)
    timings.update(model.timings_)
    natural = model.natural_labels_
    labels = model.labels_
    notes = _tiny_segment_notes(labels, model.n_clusters_)

    started = time.perf_counter()
    order = model.order_
    checked = order[:cfg.samples.consistency]
    checks = consistency(model.segmenter_, X[checked], natural[checked])
    timings["consistency"] = time.perf_counter() - started
    started = time.perf_counter()
    stability = None
    if cfg.stability and not levels_on:  # the persona level measures its own
        rows = order[:cfg.samples.stability]
        stability = segmenter_stability(model.segmenter_, X[rows], natural[rows],
                                        random_state=cfg.random_state)
    elif cfg.stability and model.n_clusters_ > 1:
        stability = _levels_stability(model, X, labels)
    timings["stability"] = time.perf_counter() - started

    started = time.perf_counter()
    log.info("profiling %d segments", model.n_clusters_)
    profiles = segment_profiles(feature_frame(frame, model.preprocessor_, source), labels,
                                model.preprocessor_)
    unstable = set(stability.unstable_segments) if stability else set()
    profiles["unstable"] = profiles["segment"].isin(unstable)
    extra = algorithm_outputs(model, X, ids)
    if levels_on:
        levels = model.persona_levels_
        extra.update({"levels": levels, "levels_table": pd.DataFrame(levels.k_table)})
    if "rfm_segment" in extra["user_columns"]:
        from personae.profile.rfm import rfm_crosstab

        extra["rfm_crosstab"] = rfm_crosstab(labels, extra["user_columns"]["rfm_segment"])
    timings["profile"] = time.perf_counter() - started

    if sequences is not None:  # before the personas and journeys, which speak from them
        started = time.perf_counter()
        extra["sequences"] = sequences
        extra["sequence_profiles"] = _sequence_profiles(sequences, ids, labels)
        timings["sequence_profiles"] = time.perf_counter() - started
    started = time.perf_counter()
    users = users_table(frame, ids, labels, extra["user_columns"])
    personas = personas_document(profiles, semantics, users, source=source,
                                 sequences=extra.get("sequence_profiles"))
    timings["personas"] = time.perf_counter() - started
    started = time.perf_counter()
    journeys = with_sequences(_journeys(read, ids, labels),
                              extra.get("sequence_profiles"))
    user_map = _user_map(run, X, ids, labels, sequences)
    timings["journeys_and_map"] = time.perf_counter() - started
    started = time.perf_counter()
    reference = build_reference(frame, labels, model, source, X=X,
                                rows=sample_rows(ids, cfg.samples.reference, cfg.random_state)
                                if len(ids) > cfg.samples.reference else None)
    timings["reference"] = time.perf_counter() - started
    if run.input.events is not None and run.input.events.early_days:
        from personae.serve.early import early_stage

        started = time.perf_counter()
        extra["early"] = early_stage(read.rows,
                                     run.input.events, provenance, model, ids, labels,
                                     cfg.random_state)
        timings["early"] = time.perf_counter() - started

    info = _run_info(run, source, frame, model, labels, checks, stability, notes, provenance,
                     semantics, timings, extra)
    if "early" in extra:
        info["early"] = extra["early"].summary()
    if "levels" in extra:
        levels = extra["levels"]
        info["levels"] = {"personas": levels.n_personas, "actionable": levels.actionable,
                          "stable": levels.stable, "stability_ari": levels.stability_ari,
                          "separation": levels.separation.as_dict(), "why": levels.why,
                          "sizes": levels.to_dict()["sizes"],
                          "natural_segments": int(model.segmenter_.n_segments_),
                          "natural_partition": "natural_segment column; k_selection.csv and "
                                               "algorithm_selection.csv decided it"}
    return SegmentationResult(
        source=source, data=frame, ids=ids, labels=labels, profiles=profiles,
        k_table=decision_table(model), model=model, info=info,
        extra=extra, config=run, personas=personas, journeys=journeys, user_map=user_map,
        semantics=semantics, reference=reference)


@dataclass(frozen=True)
class _Input:
    """What a run reads: the user table, its label for messages, where it came from, the
    meanings of an event log's features, the sequence table when the run embeds sequences,
    and the log's mapped rows when a later stage needs events (journeys, early windows)."""

    frame: pd.DataFrame
    source: str
    provenance: dict[str, Any]
    meanings: dict[str, Any] = field(default_factory=dict)
    sequences: Any = None
    rows: pd.DataFrame | None = None


def _read(data: Any, spec: InputConfig, random_state: int = 0) -> _Input:
    source_data = data if data is not None else spec.path
    if source_data is None:
        from personae.errors import ConfigError

        raise ConfigError("no input: give a path or a DataFrame (or input.path in the config)")
    if spec.events is not None:
        from personae.features.events import event_rows, from_events

        # the features are aggregated out of core; the rows the other stages need are read
        # once, here, and shared (journeys, sequences, early windows)
        result = from_events(source_data, **spec.events.from_events_kwargs())
        label = result.report.source
        mapping = dict(result.report.mapping)
        provenance = {"kind": "events", "source": label, "mapping": mapping,
                      "report": result.report.lines()}
        rows = None
        if spec.sequences is not None or spec.events.early_days or \
                {"user", "time", "event"} <= set(mapping):
            rows = event_rows(source_data, {**mapping, **spec.events.mapping},
                              table=spec.events.table, time_format=spec.events.time_format)
        if spec.sequences is None:
            return _Input(result.frame, label, provenance, dict(result.meanings), rows=rows)
        table = _sequence_table(rows, spec, result, random_state)
        provenance["report"] = provenance["report"] + [f"sequences: {line}"
                                                       for line in table.lines()]
        return _Input(table.frame, label, provenance, dict(result.meanings), table, rows)
    if isinstance(source_data, (str, Path)):
        return _Input(read_table(source_data), str(source_data),
                      {"kind": "table", "source": str(source_data)})
    frame = text_columns(source_data.reset_index(drop=True), "DataFrame")
    return _Input(frame, "DataFrame", {"kind": "table", "source": "DataFrame"})


def _sequence_table(source: Any, spec: InputConfig, features: Any, random_state: int) -> Any:
    """Embeddings of each user's event sequence (alone, or beside the event features)."""
    from personae.features.embeddings import Word2VecConfig
    from personae.features.sequence_pipeline import SequenceOptions, sequence_table

    assert spec.sequences is not None and spec.events is not None
    options = SequenceOptions(
        word2vec=Word2VecConfig(workers=1 if spec.sequences.exact else None),
        embed=spec.sequences.embed, representation=spec.sequences.representation,
        tokens=spec.sequences.tokens,
        mapping={**features.report.mapping, **spec.events.mapping},
        session_gap_minutes=spec.events.session_gap_minutes,
        cache_dir=spec.sequences.cache_dir)
    return sequence_table(source, options, features=features.frame, random_state=random_state)


def _sequence_profiles(table: Any, ids: pd.Series, labels: np.ndarray) -> Any:
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


def _semantics(run: RunConfig, given: Semantics | None,
               event_meanings: dict[str, Any]) -> Semantics:
    """Meanings of the columns: the caller's, else the config's YAML; an event log's own
    feature meanings under them."""
    if given is None and run.report.semantics is not None:
        given = Semantics.from_yaml(run.report.semantics)
    user = {**event_meanings, **(dict(given.user) if given is not None else {})}
    return Semantics(user=user)


def _levels_stability(model: SegmentModel, X: np.ndarray, labels: np.ndarray) -> Any:
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


def _tiny_segment_notes(labels: np.ndarray, k: int) -> list[str]:
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


def _journeys(read: _Input, ids: pd.Series, labels: np.ndarray) -> dict[str, Any] | None:
    """Funnels and paths per segment, for event-log runs with an event column."""
    if read.rows is None:
        return None
    from personae.features.events import steps_of

    steps = steps_of(read.rows, read.provenance["mapping"])
    if steps is None:
        return None
    segments = pd.Series(labels, index=ids.astype(str).to_numpy())
    return build_journeys(steps, segments)


def _user_map(run: RunConfig, X: np.ndarray, ids: pd.Series, labels: np.ndarray,
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
        method=method, seconds=round(seconds, 3), space=space, seed=seed)


def _run_info(run: RunConfig, source: str, frame: pd.DataFrame, model: SegmentModel,
              labels: np.ndarray, checks: dict[str, Any], stability: Any, notes: list[str],
              provenance: dict[str, Any], semantics: Semantics, timings: dict[str, float],
              extra: dict[str, Any]) -> dict[str, Any]:
    from personae.features.columns import column_roles

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
                                semantics=semantics),
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
