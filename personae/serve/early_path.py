"""``POST /assign/events``: raw events -> features -> the core model, or the early model
for users younger than its longest window."""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np
import pandas as pd

from personae.errors import DataError
from personae.serve.early import align_features, first_days, window_features
from personae.serve.events import MAX_TYPES, events_frame
from personae.serve.loaded import LoadedModel, RequestError

# DuckDB connections computing features at once (each has its own memory); more requests wait
_DUCKDB_SLOTS = threading.BoundedSemaphore(max(2, os.cpu_count() or 1))


def event_features(events: list[dict[str, Any]], reference_date: str | None
                   ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """The request's events, their per-user features (batch SQL) and the role mapping."""
    from personae.features.events import from_events

    frame, mapping = events_frame(events)
    try:
        with _DUCKDB_SLOTS:
            result = from_events(frame, reference_date=reference_date, top_event_types=MAX_TYPES,
                                 threads=1, memory_limit="512MiB",
                                 **mapping)  # type: ignore[arg-type]
    except DataError as exc:
        raise RequestError(str(exc).removeprefix("<DataFrame>: "), field="events") from None
    return frame, result.frame, dict(result.report.mapping)


def assign_events(loaded: LoadedModel, events: list[dict[str, Any]],
                  reference_date: str | None, early: bool | None,
                  max_users: int) -> list[dict[str, Any]]:
    frame, features, mapping = event_features(events, reference_date)
    if len(features) > max_users:
        raise RequestError(f"the events are of {len(features):,} users; at most "
                           f"{max_users:,} per request", field="events")
    if early and loaded.early is None:
        raise RequestError("this model folder has no early model (make one with 'personae "
                           "early RUN_DIR EVENTS')", field="early")
    if loaded.categorical:
        raise RequestError("this model also reads categories "
                           f"{sorted(loaded.categorical)}, which events do not give; "
                           "use POST /assign", field="events")
    ages = features["tenure_days"].to_numpy(dtype=float) if "tenure_days" in features else \
        np.full(len(features), np.inf)
    window_of: list[Any] = [None] * len(features)
    if loaded.early is not None and early is not False:
        longest = max(loaded.early.days)
        for i, age in enumerate(ages):
            window = loaded.early.window_for(min(age, longest) if early else age)
            window_of[i] = window
    ids = [_plain(v) for v in features["user_id"].tolist()]
    out: list[dict[str, Any] | None] = [None] * len(ids)
    core = [i for i, w in enumerate(window_of) if w is None]
    if core:
        try:
            aligned = align_features(features.iloc[core], loaded.numeric)
        except DataError as exc:
            raise RequestError(str(exc), field="events", known=loaded.features) from None
        rows = aligned[loaded.numeric].to_dict("records")
        for i, row in zip(core, loaded.assign(rows, [ids[i] for i in core], "events"),
                          strict=True):
            out[i] = {**row, "source": "core", "early_days": None,
                      "age_days": round(float(ages[i]), 4)}
    if len(core) < len(ids):
        _assign_early(loaded, frame, features, mapping, window_of, ids, ages, out)
    return [row for row in out if row is not None]


def _assign_early(loaded: LoadedModel, frame: pd.DataFrame, features: pd.DataFrame,
                  mapping: dict[str, str], window_of: list[Any], ids: list[Any],
                  ages: np.ndarray, out: list[dict[str, Any] | None]) -> None:
    assert loaded.early is not None
    starts = first_days(frame, mapping)
    key = features["user_id"].astype(str).to_numpy()
    for window in {w.days: w for w in window_of if w is not None}.values():
        chosen = [i for i, w in enumerate(window_of) if w is window]
        wanted = set(key[chosen])
        users = frame[mapping["user"]].astype(str).isin(wanted).to_numpy()
        try:
            early = align_features(window_features(frame[users], mapping, window.days,
                                                   starts), list(window.features))
        except DataError as exc:
            raise RequestError(str(exc), field="events") from None
        early = early.set_index(early["user_id"].astype(str).to_numpy())
        labels, votes = loaded.early.predict(window, early.loc[key[chosen]])
        for i, label, vote in zip(chosen, labels, votes, strict=True):
            out[i] = {"user_id": ids[i], "segment": int(label),
                      "persona": loaded.persona(int(label)),
                      "probability": round(float(vote), 6), "novel": False,
                      "broad_segment": None, "source": "early", "early_days": window.days,
                      "age_days": round(float(ages[i]), 4)}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
