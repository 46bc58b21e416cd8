"""Monitor a run's model on new users, or compare two finished runs."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personae.errors import ConfigError, DataError, ModelFileError
from personae.monitor._adapter import (
    RunFolder,
    assign,
    frame_ids,
    load_run,
    run_from_result,
    run_ids,
    segment_matrix,
)
from personae.monitor.drift import feature_drift
from personae.monitor.governance import Governance, SegmentState, govern
from personae.monitor.matching import (
    Matching,
    centroid_distance,
    edge_counts,
    match_segments,
    overlap_counts,
)
from personae.monitor.reference import Reference, build_reference
from personae.monitor.stats import bimodality, centroids, segment_rows
from personae.monitor.transitions import (
    ShiftSummary,
    segment_shift,
    stayed_share,
    transition_matrix,
    transitions,
)

log = logging.getLogger(__name__)

REFIT_FOLDER = "refit"  # inside the monitor folder: the refitted run, ready to promote


@dataclass(frozen=True, eq=False)
class Refit:
    """``monitor --refit``: a fresh run on the new users with the run's own config
    (``run``, a SegmentationResult, saved as ``refit/`` in the monitor folder so it can be
    promoted) and ``comparison``, what ``compare`` says of the old run and it."""

    run: Any
    comparison: MonitorResult


@dataclass(frozen=True, eq=False)
class MonitorResult:
    """Everything ``personae monitor`` / ``personae compare`` writes."""

    kind: str
    drift: pd.DataFrame
    segment_shift: pd.DataFrame
    shift: ShiftSummary
    transitions: pd.DataFrame | None
    matching: Matching | None
    governance: Governance
    summary: dict[str, Any] = field(default_factory=dict)
    refit: Refit | None = None  # monitor --refit: the fresh run and its comparison

    @property
    def transition_matrix(self) -> pd.DataFrame | None:
        return None if self.transitions is None else transition_matrix(self.transitions)

    def save(self, out: str | Path) -> Path:
        from personae.monitor.outputs import write_outputs

        return write_outputs(self, out)


def run_reference(run: RunFolder) -> tuple[Reference, str | None]:
    """The run's saved reference, or one rebuilt from users_segmented.parquet (with a note)."""
    if (run.model_dir / "reference.json").is_file():
        return Reference.load(run.model_dir), None
    users_path = run.path / "users_segmented.parquet"
    note = (f"{run.model_dir} keeps no reference.json: the reference was rebuilt from "
            f"{users_path} (the training input columns and labels)")
    log.info(note)
    reference = build_reference(run.users, run.labels, run.model, str(users_path))
    return reference, note


def read_new_input(run: RunFolder, path: str | Path, events: bool = False,
                   event_map: dict[str, str] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """The new users: a user table, or an event log turned into features the way the run's
    log was (the mapping in run.json or personas.json, else ``event_map``, else detection)."""
    notes: list[str] = []
    if not events:
        from personae.data.readers import read_table

        return read_table(path), notes
    from personae.features.event_remap import remap
    from personae.features.events import from_events

    options = run_events_config(run, event_map)
    mapping = options.mapping
    if mapping:  # a new export may name its columns otherwise: found by name again
        sequences_only = {k: v for k, v in mapping.items() if k == "position"}
        mapping, remapped = remap(str(path), {k: v for k, v in run.event_mapping().items()
                                              if k != "position"},
                                  {k: v for k, v in (event_map or {}).items()
                                   if k != "position"}, options.table)
        if remapped:
            notes.append(remapped)
        options = options.model_copy(update={"mapping": {**mapping, **sequences_only}})
    notes.append("event features computed with the mapping " + (
        ", ".join(f"{k}={v}" for k, v in sorted(mapping.items())) if mapping
        else "detected by name (the run records none)"))
    frame = from_events(str(path), **options.from_events_kwargs()).frame
    needed = [*run.model.preprocessor_.numeric_, *run.model.preprocessor_.categorical_]
    absent = [c for c in needed if c not in frame.columns]
    if absent:
        notes.append(f"features absent from the new log ({', '.join(absent)}) are treated "
                     "as missing (the model imputes them)")
        frame = frame.assign(**{c: np.nan for c in absent})
    return frame, notes


def run_events_config(run: RunFolder, event_map: dict[str, str] | None = None) -> Any:
    """The run's own event-log settings (session gap, event types kept, time format ...)
    with its mapping and ``event_map`` over it, so new users get the features the model
    was trained on; the reference date is left to the new log (recency at its end)."""
    from personae.config import EventsConfig, build

    recorded = (run.info.get("config", {}).get("input") or {}).get("events") or {}
    values = {**recorded, "reference_date": None,
              "mapping": {**run.event_mapping(), **(event_map or {})}}
    return build(EventsConfig, values, f"{run.path / 'run.json'} config.input.events")


def refit_run(run: RunFolder, new_input: str | Path | pd.DataFrame, events: bool,
              event_map: dict[str, str] | None) -> Any:
    """A fresh run on the new users with the run's own config (run.json's ``config``
    block, verbatim but for the input): the SegmentationResult."""
    from personae.config import RunConfig, build
    from personae.pipeline import segment

    document = run.info.get("config")
    where = f"{run.path / 'run.json'}"
    if not isinstance(document, dict):
        raise ModelFileError(f"{where}: records no config block (written before run format "
                             "2); --refit needs the run's own settings")
    given = dict(document.get("input") or {})
    data = None
    if events:
        given.update(path=str(new_input),
                     events=run_events_config(run, event_map).model_dump(mode="json"))
    else:
        if given.get("sequences"):
            raise ConfigError(f"{where}: the run segments event sequences; --refit needs "
                              "the new event log (--events)")
        in_memory = isinstance(new_input, pd.DataFrame)
        data = new_input if in_memory else None
        given.update(path=None if in_memory else str(new_input), events=None,
                     sequences=None)
    config = build(RunConfig, {**document, "input": given}, f"{where} config")
    log.info("refitting on the new users with the run's config")
    return segment(data, config=config)


def _state(segments: list[int], names: dict[int, str], X: np.ndarray, labels: np.ndarray,
           reference: Reference, reference_shares: np.ndarray, reference_bc: np.ndarray
           ) -> SegmentState:
    counts = np.bincount(labels[labels >= 0], minlength=max([*segments, -1]) + 1)
    sizes = np.array([int(counts[s]) if s < len(counts) else 0 for s in segments])
    return SegmentState(
        segments=segments, names=names, sizes=sizes, reference_shares=reference_shares,
        centroids=centroids(X, labels, segments), space_sd=reference.space_sd,
        space_features=list(reference.space_features),
        bimodality=np.array([bimodality(X[segment_rows(labels, s)]) for s in segments]),
        reference_bimodality=reference_bc)



def monitor(run_dir: str | Path, new_input: str | Path | pd.DataFrame, *,
            events: bool = False, event_map: dict[str, str] | None = None,
            refit: bool = False) -> MonitorResult:
    """Apply the run's model to new users (no refit) and compare them with its reference.
    ``refit``: also fit a fresh run on the new users with the run's own config and match
    its segments to the run's (fates, stable ids, its governance), as ``compare`` does."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    run = load_run(run_dir)
    reference, note = run_reference(run)
    notes = [note] if note else []
    timings["load_run"] = time.perf_counter() - clock

    clock = time.perf_counter()
    if isinstance(new_input, pd.DataFrame):
        source, frame = "DataFrame", new_input.reset_index(drop=True)
    else:
        source = str(new_input)
        frame, more = read_new_input(run, new_input, events, event_map)
        notes += more
    if len(frame) == 0:
        raise DataError("has no users", source=source)
    timings["read"] = time.perf_counter() - clock

    clock = time.perf_counter()
    drift = feature_drift(reference, frame, source)
    timings["drift"] = time.perf_counter() - clock

    clock = time.perf_counter()
    X = segment_matrix(run.model, frame, source)
    labels, novel = assign(run.model, X)
    timings["assign"] = time.perf_counter() - clock

    clock = time.perf_counter()
    sizes = dict(zip(reference.segments, reference.segment_sizes, strict=True))
    edge = int(np.sum(run.labels < 0))
    if edge:
        sizes[-1] = edge
    shift_table, shift = segment_shift(sizes, labels, run.names)
    moves = None
    ids = frame_ids(run.model, frame, source)
    if ids is not None:
        moves = transitions(run_ids(run), run.labels, ids, labels)
    else:
        notes.append(f"the new input has no {run.model.id_column_!r} column: no transitions")
    stayed = stayed_share(moves) if moves is not None else None
    segments = list(reference.segments)
    state = _state(segments, run.names, X, labels, reference, reference.segment_shares,
                   np.asarray(reference.bimodality))
    governance = govern(state, drift, shift.psi, novel, stayed)
    timings["segments"] = time.perf_counter() - clock
    refitted = None
    if refit:
        clock = time.perf_counter()
        fitted = refit_run(run, new_input, events, event_map)
        timings["refit"] = time.perf_counter() - clock
        clock = time.perf_counter()
        comparison = compare_runs(run, run_from_result(fitted, REFIT_FOLDER), reference, [],
                                  {}, drift=drift)
        timings["refit_match"] = time.perf_counter() - clock
        refitted = Refit(run=fitted, comparison=comparison)
    summary = {
        "kind": "monitor", "run": str(run.path), "new_input": source, "events": events,
        "reference": reference.source, "reference_users": reference.n_users,
        "new_users": len(frame), "novel_share": novel,
        "users_in_both": int(moves["users"].sum()) if moves is not None else None,
        "stayed_share": stayed, "segment_psi": shift.psi, "segment_verdict": shift.verdict,
        "drift_counts": drift["verdict"].value_counts().to_dict(), "notes": notes,
        "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
    }
    if refitted is not None:
        compared = refitted.comparison.summary
        summary["refit"] = {
            "folder": REFIT_FOLDER, "segments": refitted.run.n_segments,
            "algorithm": refitted.run.algorithm["name"],
            **{k: compared[k] for k in ("fates", "stable_ids", "users_in_both",
                                        "stayed_share", "segment_psi", "segment_verdict")},
            "retrain": refitted.comparison.governance.retrain}
    return MonitorResult("monitor", drift, shift_table, shift, moves,
                         refitted.comparison.matching if refitted else None, governance,
                         summary, refit=refitted)


def compare(run_a: str | Path, run_b: str | Path) -> MonitorResult:
    """Compare two finished runs: B's users against A's reference, B's segments matched to
    A's (B's segments get A's ids where they match), where A's users went."""
    clock = time.perf_counter()
    a, b = load_run(run_a), load_run(run_b)
    reference, note = run_reference(a)
    return compare_runs(a, b, reference, [note] if note else [],
                        {"load_runs": time.perf_counter() - clock})


def compare_runs(a: RunFolder, b: RunFolder, reference: Reference, notes: list[str],
                 timings: dict[str, float], drift: pd.DataFrame | None = None
                 ) -> MonitorResult:
    """``compare`` of two runs already at hand (``monitor --refit`` passes its refit and
    the drift it measured on the same users)."""
    clock = time.perf_counter()
    source = str(b.path / "users_segmented.parquet")
    if drift is None:
        drift = feature_drift(reference, b.users, source)
        timings["drift"] = time.perf_counter() - clock

    clock = time.perf_counter()
    XB = segment_matrix(a.model, b.users, source)  # B's users in A's space
    _, novel = assign(a.model, XB)
    labels_b = b.labels
    new_segments = sorted(int(s) for s in np.unique(labels_b) if s >= 0)
    cb = centroids(XB, labels_b, new_segments)
    distance = centroid_distance(reference.centroids, cb, reference.space_sd)
    old_segments = list(reference.segments)
    ids_a, ids_b = run_ids(a), run_ids(b)
    paired = transitions(ids_a, a.labels, ids_b, labels_b)
    pairs = (paired["from_segment"].to_numpy(), paired["to_segment"].to_numpy(),
             old_segments, new_segments, paired["users"].to_numpy())
    matching = match_segments(old_segments, new_segments, distance, overlap_counts(*pairs),
                              a.names, edge=edge_counts(*pairs))
    # edge users are no persona: they keep -1 in both runs
    stable = _stable_labels(labels_b, matching.ids)
    timings["match"] = time.perf_counter() - clock

    clock = time.perf_counter()
    sizes = dict(zip(reference.segments, reference.segment_sizes, strict=True))
    edge = int(np.sum(a.labels < 0))
    if edge:
        sizes[-1] = edge
    names = dict(a.names)
    names.update({matching.ids[s]: f"{b.names.get(s, f'segment {s}')} (run B)"
                  for s in new_segments if matching.ids[s] not in names})
    shift_table, shift = segment_shift(sizes, stable, names)
    moves = transitions(ids_a, a.labels, ids_b, stable) if len(paired) else None
    stayed = stayed_share(moves) if moves is not None else None
    by_id = {matching.ids[s]: s for s in new_segments}
    stable_segments = sorted(by_id)
    ref_share = dict(zip(old_segments, reference.segment_shares, strict=True))
    ref_bc = dict(zip(old_segments, reference.bimodality, strict=True))
    state = _state(stable_segments, names, XB, stable, reference,
                   np.array([ref_share.get(s, np.nan) for s in stable_segments]),
                   np.array([ref_bc.get(s, np.nan) for s in stable_segments]))
    governance = govern(state, drift, shift.psi, novel, stayed)
    timings["segments"] = time.perf_counter() - clock
    fates = matching.fates["fate"].value_counts().to_dict()
    summary = {
        "kind": "compare", "run_a": str(a.path), "run_b": str(b.path),
        "reference": reference.source, "reference_users": reference.n_users,
        "new_users": len(b.users), "novel_share": novel,
        "users_in_both": int(paired["users"].sum()), "stayed_share": stayed,
        "segment_psi": shift.psi, "segment_verdict": shift.verdict,
        "stable_ids": {str(k): v for k, v in matching.ids.items()}, "fates": fates,
        "drift_counts": drift["verdict"].value_counts().to_dict(), "notes": notes,
        "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
    }
    return MonitorResult("compare", drift, shift_table, shift, moves, matching, governance,
                         summary)


def _stable_labels(labels: np.ndarray, ids: dict[int, int]) -> np.ndarray:
    """A run's labels in stable ids (edge users stay -1), one lookup for all users."""
    labels = np.asarray(labels)
    if not ids:
        return np.full(len(labels), -1, dtype=np.int64)
    table = np.full(max(ids) + 2, -1, dtype=np.int64)  # the last cell: edge users
    for segment, stable in ids.items():
        table[segment] = stable
    return table[np.where(labels >= 0, labels, len(table) - 1)]
