"""``segment()``: the stages of a run in order, and the result they hand to the report.

    RunConfig -> read (table or event log) -> SegmentModel.fit_transform -> checks
    (consistency, stability) -> profiles -> personas -> journeys -> map -> SegmentationResult

Nothing here goes back through the disk: the report renders the result from memory, and
``save`` writes it once (run.json last, listing every file with its sha256).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personae.cluster.validate import consistency, segmenter_stability
from personae.config import RunConfig, SegmentSettings, build, merged
from personae.describe import (
    algorithm_outputs,
    decision_table,
    levels_stability,
    run_info,
    run_journeys,
    sequence_profiles_of,
    tiny_segment_notes,
    user_map_of,
)
from personae.features.semantics import Semantics
from personae.features.table import detect_id_column, missing_shares, user_ids
from personae.inputs import read_input, run_semantics
from personae.model import SegmentModel, sample_rows
from personae.monitor.reference import build_reference
from personae.profile.journeys import with_sequences
from personae.profile.personas import personas_document
from personae.profile.segments import segment_profiles
from personae.result import SegmentationResult, users_table, with_personas

__all__ = ["SegmentationResult", "run_config", "segment", "users_table"]

log = logging.getLogger(__name__)


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


def _timed(work: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    return work(*args, **kwargs), time.perf_counter() - started


def _checks(cfg: SegmentSettings, model: SegmentModel, X: np.ndarray, natural: np.ndarray,
            labels: np.ndarray) -> tuple[dict[str, Any], Any, float, float]:
    """Consistency of the algorithm's own partition, and the stability of the segments
    (the persona level measures its own): both with their seconds."""
    started = time.perf_counter()
    checked = model.order_[:cfg.samples.consistency]
    checks = consistency(model.segmenter_, X[checked], natural[checked])
    consistency_seconds = time.perf_counter() - started
    started = time.perf_counter()
    stability = None
    if cfg.stability and not cfg.levels_on:
        rows = model.order_[:cfg.samples.stability]
        stability = segmenter_stability(model.segmenter_, X[rows], natural[rows],
                                        random_state=cfg.random_state)
    elif cfg.stability and model.n_clusters_ > 1:
        stability = levels_stability(model, X, labels)
    return checks, stability, consistency_seconds, time.perf_counter() - started


def segment(data: pd.DataFrame | str | Path | None = None, *, config: RunConfig | None = None,
            semantics: Semantics | None = None, helper: Executor | None = None,
            **settings: Any) -> SegmentationResult:
    """Segment users: a user table (a DataFrame or a CSV/Parquet path, one row per user), or
    an event log when ``config.input.events`` is set. ``settings``: any field of
    :class:`~personae.config.SegmentSettings` (``k``, ``algorithm``, ``random_state``, ...).
    ``helper``: worker processes for ``auto``'s comparison
    (:func:`~personae.cluster.auto.comparison_helper`), when the caller forked them (a
    program that starts threads of its own); by default a run forks its own where that is
    safe.
    """
    run = run_config(data, config, **settings)
    cfg = run.segmentation
    timings: dict[str, float] = {}
    from personae.cluster.auto import comparison_helper

    # auto's helper processes are forked before the input is read: they hold none of the data
    forked = nullcontext(helper) if helper is not None else \
        comparison_helper(cfg.algorithm == "auto")
    with forked as helper:
        started = time.perf_counter()
        read = read_input(data, run.input, cfg.random_state)
        frame, source, provenance, sequences = read.frame, read.source, read.provenance, \
            read.sequences
        timings["read"] = time.perf_counter() - started
        log.info("read %d users x %d columns from %s", len(frame), frame.shape[1], source)
        id_column = cfg.id_column if cfg.id_column is not None else \
            detect_id_column([str(c) for c in frame.columns], frame)
        semantics = run_semantics(run, semantics, read, id_column)
        ids = user_ids(frame, id_column, source)
        levels_on = cfg.levels_on
        if levels_on and cfg.features is None:
            # behaviour drives the split; timing shares and context only describe the personas
            from personae.features.semantics import feature_roles

            roles = feature_roles([str(c) for c in frame.columns if c != id_column], semantics,
                                  missing=missing_shares(frame))
            cfg = cfg.model_copy(update={"features": list(roles.drive)})
        if cfg.rfm is None:  # the RFM map speaks of transactions: an event log's
            cfg = cfg.model_copy(update={"rfm": levels_on and provenance.get("kind") == "events"})
        model = SegmentModel(cfg)
        features, X = model.fit_cleaned(frame, source, ids, helper)
    timings.update(model.timings_)
    natural = model.natural_labels_
    labels = model.labels_
    notes = tiny_segment_notes(labels, model.n_clusters_)

    # The checks, the profiles and the monitoring reference read the fit and never each
    # other: the first two run beside the profiles (mostly compiled code that releases the
    # GIL), each timed on its own.
    with ThreadPoolExecutor(2) as pool:
        checking = pool.submit(_checks, cfg, model, X, natural, labels)
        referencing = pool.submit(
            _timed, build_reference, frame, labels, model, source, X=X,
            rows=sample_rows(ids, cfg.samples.reference, cfg.random_state)
            if len(ids) > cfg.samples.reference else None)
        started = time.perf_counter()
        log.info("profiling %d segments", model.n_clusters_)
        profiles = segment_profiles(features, labels, model.preprocessor_, X)
        timings["profile"] = time.perf_counter() - started
        checks, stability, timings["consistency"], timings["stability"] = checking.result()
        reference, timings["reference"] = referencing.result()
    del features  # the users in their own units, twice the input's size: profiled now
    started = time.perf_counter()
    unstable = set(stability.unstable_segments) if stability else set()
    profiles["unstable"] = profiles["segment"].isin(unstable)
    extra = algorithm_outputs(model, X, ids)
    if levels_on:
        levels = model.persona_levels_
        extra.update({"levels": levels, "levels_table": pd.DataFrame(levels.k_table)})
    if "rfm_segment" in extra["user_columns"]:
        from personae.profile.rfm import rfm_crosstab

        extra["rfm_crosstab"] = rfm_crosstab(labels, extra["user_columns"]["rfm_segment"])
    timings["profile"] += time.perf_counter() - started

    if sequences is not None:  # before the personas and journeys, which speak from them
        started = time.perf_counter()
        extra["sequences"] = sequences
        extra["sequence_profiles"] = sequence_profiles_of(sequences, ids, labels)
        timings["sequence_profiles"] = time.perf_counter() - started
    forecast = None
    if read.rows is not None and provenance.get("kind") == "events":
        from personae.forecast.stage import forecast_stage

        started = time.perf_counter()
        forecast = forecast_stage(read.rows, provenance, ids, run.forecast,
                                  run.input.events.reference_date if run.input.events else None)
        if forecast.forecaster is not None:
            model.with_forecaster(forecast.forecaster)
            assert forecast.users is not None
            extra["user_columns"].update({c: forecast.users[c].to_numpy()
                                          for c in forecast.users.columns})
        timings["forecast"] = time.perf_counter() - started
    started = time.perf_counter()
    users = users_table(frame, ids, labels, extra["user_columns"])
    personas = personas_document(profiles, semantics, users, source=source,
                                 sequences=extra.get("sequence_profiles"))
    if forecast is not None:
        from personae.forecast.stage import with_persona_forecasts

        personas = with_persona_forecasts(personas, forecast, labels)
    timings["personas"] = time.perf_counter() - started
    started = time.perf_counter()
    journeys = with_sequences(run_journeys(read, ids, labels),
                              extra.get("sequence_profiles"))
    user_map = user_map_of(run, X, ids, labels, sequences)
    timings["journeys_and_map"] = time.perf_counter() - started
    if run.input.events is not None and run.input.events.early_days:
        from personae.serve.early import early_stage

        started = time.perf_counter()
        extra["early"] = early_stage(read.rows,
                                     run.input.events, provenance, model, ids, labels,
                                     cfg.random_state)
        timings["early"] = time.perf_counter() - started

    info = run_info(run, source, frame, model, labels, checks, stability, notes, provenance,
                     semantics, timings, extra)
    if "early" in extra:
        info["early"] = extra["early"].summary()
    if forecast is not None:
        info["forecast"] = forecast.summary()
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
        semantics=semantics, reference=reference, built_users=with_personas(users, personas))


