"""Events -> features -> the core model, or the early model for users younger than its
longest window: ``POST /assign/events`` per request, ``personae assign --events`` on a
whole log (``personae.serve.batch``), both through ``assign_features``."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from personae.errors import DataError
from personae.features.table import id_text
from personae.forecast.forecaster import FORECAST_COLUMNS
from personae.serve.early import NOT_YET_KNOWN, align_features, window_features
from personae.serve.events import MAX_TYPES, events_frame
from personae.serve.loaded import LoadedModel, RequestError

# Requests computing features at once, each in its own cursor of one DuckDB database per
# process (starting a database per request was a third of a request's time); more wait
_DUCKDB_SLOTS = threading.BoundedSemaphore(max(2, os.cpu_count() or 1))
_DUCKDB_MEMORY = "1GiB"
_database: Any = None
_database_lock = threading.Lock()


def feature_database() -> Any:
    """The process's DuckDB database for request features (opened on first use)."""
    global _database
    with _database_lock:
        if _database is None:
            import duckdb

            _database = duckdb.connect(":memory:", config={
                "threads": 1, "memory_limit": _DUCKDB_MEMORY,
                "preserve_insertion_order": False})
        return _database

#: What each user's answer holds, in this order (the CLI's output columns).
COLUMNS = ("user_id", "segment", "persona", "probability", "novel", "broad_segment",
           "source", "early_days", "age_days")
#: Labels of the core model that follow where the model has them (the early model gives
#: none: its users' rows are empty there).
LABELS = ("natural_segment", "detailed_segment", "rfm_score", "rfm_segment")
#: Forecasts of the model's forecaster (personae.forecast), where the model has one.
FORECASTS = FORECAST_COLUMNS
#: What the early model adds when it answers some user: the predictor of their window
#: (knn, core, blend) and every segment's probability ({segment: p}); core rows have none.
#: A window that abstains answers segment None, persona "not yet known".
EARLY = ("early_predictor", "segment_probabilities")


def event_features(events: list[dict[str, Any]], reference_date: str | None
                   ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """The request's events, their per-user features (batch SQL) and the role mapping."""
    from personae.features.events import from_events

    frame, mapping = events_frame(events)
    try:
        with _DUCKDB_SLOTS:
            result = from_events(frame, reference_date=reference_date, top_event_types=MAX_TYPES,
                                 connection=feature_database(), memory_limit=_DUCKDB_MEMORY,
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
    user = mapping["user"]

    def rows_of(keys: set[str]) -> pd.DataFrame:
        return frame[id_text(frame[user]).isin(keys).to_numpy()]

    table = assign_features(loaded, features, mapping, early, rows_of, reference_date)
    return records(table)


def assign_features(loaded: LoadedModel, features: pd.DataFrame, mapping: dict[str, str],
                    early: bool | None, rows_of: Callable[[set[str]], pd.DataFrame],
                    reference_date: str | None = None) -> pd.DataFrame:
    """One row per user of ``features`` (a ``from_events`` frame), ``COLUMNS``; then
    ``LABELS`` the core model gave, and ``FORECASTS`` when the model has a forecaster
    (from everyone's rows, observed until the day before ``reference_date``, else the day
    of the rows' last event).

    ``early``: None = the early model for users younger than its longest window (when the
    model folder has one), True = the early model for everyone (the longest window for
    older users), False = the core model only. ``rows_of(user keys)``: those users' raw
    events (ids as text), read only when some user is young enough for a window.
    """
    if early and loaded.early is None:
        raise RequestError("this model folder has no early model (make one with 'personae "
                           "run --events --early-days 7,14,30' or 'personae early RUN_DIR "
                           "EVENTS')", field="early")
    if loaded.categorical:
        raise RequestError("this model also reads categories "
                           f"{sorted(loaded.categorical)}, which events do not give; "
                           "use POST /assign", field="events")
    n = len(features)
    ages = features["tenure_days"].to_numpy(dtype=float) if "tenure_days" in features else \
        np.full(n, np.inf)
    window_days = np.zeros(n, dtype=np.int64)  # 0 = the core model answers
    if loaded.early is not None and early is not False:
        longest = max(loaded.early.days)
        for days in sorted(loaded.early.days, reverse=True):  # the shortest that fits wins
            window_days[(np.minimum(ages, longest) if early else ages) <= days] = days
    out = pd.DataFrame({"user_id": features["user_id"].to_numpy(),
                        "segment": np.full(n, -1, dtype=np.int64),
                        "probability": np.full(n, np.nan), "novel": np.zeros(n, dtype=bool),
                        "broad_segment": pd.array([None] * n, dtype="Int64"),
                        "source": np.where(window_days > 0, "early", "core"),
                        "early_days": pd.array(np.where(window_days > 0, window_days, 0),
                                               dtype="Int64"),
                        "age_days": np.round(ages, 4)})
    out.loc[window_days == 0, "early_days"] = pd.NA
    core = np.flatnonzero(window_days == 0)
    if len(core):
        model = loaded.model
        try:  # the RFM map scores raw columns the model may not segment on
            aligned = align_features(features.iloc[core], [
                *loaded.numeric, *(c for c in model.rfm_columns
                                   if c in features.columns and c not in loaded.numeric)])
        except DataError as exc:
            raise RequestError(str(exc), field="events", known=loaded.features) from None
        assigned = model.assign(aligned, "events")
        labels = assigned["segment"].to_numpy()
        out.iloc[core, out.columns.get_loc("segment")] = labels
        out.iloc[core, out.columns.get_loc("novel")] = assigned["novel"].to_numpy()
        if "probability" in assigned:  # as users_segmented has it (a mixture's natural fit)
            out.iloc[core, out.columns.get_loc("probability")] = \
                assigned["probability"].to_numpy()
        broad = "broad_segment" if "broad_segment" in assigned else "level_1"
        if broad in assigned:
            out.iloc[core, out.columns.get_loc("broad_segment")] = assigned[broad].to_numpy()
        for column in (c for c in LABELS if c in assigned):
            values = np.full(n, None, dtype=object)
            values[core] = assigned[column].to_numpy()
            out[column] = values if column.startswith("rfm") else pd.array(values,
                                                                           dtype="Int64")
    unknown = np.zeros(n, dtype=bool)
    if len(core) < n:
        unknown = _assign_early(loaded, features, mapping, window_days, rows_of, out)
    names = {int(s): loaded.persona(int(s)) for s in np.unique(out["segment"].to_numpy())}
    out.insert(2, "persona", out["segment"].map(names))
    if unknown.any():  # the window abstained: no segment yet, the probabilities stand
        out["segment"] = pd.array(out["segment"].to_numpy(), dtype="Int64")
        out.loc[unknown, "segment"] = pd.NA
        out.loc[unknown, "persona"] = NOT_YET_KNOWN
    if getattr(loaded.model, "forecaster_", None) is not None:
        _add_forecasts(loaded.model, features, mapping, rows_of, reference_date, out)
    return out[[*COLUMNS, *(c for c in (*LABELS, *FORECASTS, *EARLY) if c in out.columns)]]


def _add_forecasts(model: Any, features: pd.DataFrame, mapping: dict[str, str],
                   rows_of: Callable[[set[str]], pd.DataFrame], reference_date: str | None,
                   out: pd.DataFrame) -> None:
    from personae.forecast.stage import observed_until
    from personae.forecast.summaries import user_summaries

    key = features["user_id"].astype(str)
    rows = rows_of(set(key))
    try:
        summaries = user_summaries(rows, mapping, id_text(rows[mapping["user"]]),
                                   pd.Index(key), purchases=model.forecaster_.purchases,
                                   end=observed_until(rows, mapping, reference_date))
    except DataError as exc:
        raise RequestError(str(exc), field="events") from None
    forecasts = model.forecast(summaries)
    for column in forecasts.columns:
        out[column] = forecasts[column].to_numpy()


def _assign_early(loaded: LoadedModel, features: pd.DataFrame, mapping: dict[str, str],
                  window_days: np.ndarray, rows_of: Callable[[set[str]], pd.DataFrame],
                  out: pd.DataFrame) -> np.ndarray:
    """The early model's answers into ``out``; True where the user's window abstains."""
    assert loaded.early is not None
    key = features["user_id"].astype(str).to_numpy()
    young = rows_of(set(key[window_days > 0]))
    user = id_text(young[mapping["user"]]).to_numpy()
    unknown = np.zeros(len(out), dtype=bool)
    predictor = np.full(len(out), None, dtype=object)
    probabilities = np.full(len(out), None, dtype=object)
    for window in loaded.early.windows:
        chosen = np.flatnonzero(window_days == window.days)
        if not len(chosen):
            continue
        mine = young[np.isin(user, key[chosen])]
        try:
            early = align_features(window_features(mine, mapping, window.days, None,
                                                   loaded.early.options),
                                   list(window.features))
        except DataError as exc:
            raise RequestError(str(exc), field="events") from None
        early = early.set_index(early["user_id"].astype(str).to_numpy())
        labels, probability, proba = loaded.early.predict(window, early.loc[key[chosen]],
                                                          loaded.model)
        out.iloc[chosen, out.columns.get_loc("segment")] = labels
        out.iloc[chosen, out.columns.get_loc("probability")] = probability
        unknown[chosen] = window.abstains
        predictor[chosen] = window.predictor
        segments = [int(s) for s in window.segments]
        for row, shares in zip(chosen, proba, strict=True):
            probabilities[row] = {s: float(p) for s, p in zip(segments, shares, strict=True)}
    out["early_predictor"] = predictor
    out["segment_probabilities"] = probabilities
    return unknown


def records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """``assign_features`` rows as JSON-ready dicts (plain Python values, null for none)."""
    labels = [c for c in LABELS if c in table.columns]
    forecasts = [c for c in FORECASTS if c in table.columns]
    early = [c for c in EARLY if c in table.columns]
    rows = []
    for values in zip(*(table[c].tolist() for c in (*COLUMNS, *labels, *forecasts, *early)),
                      strict=True):
        user_id, segment, persona, probability, novel, broad, source, days, age = values[:9]
        row = {"user_id": user_id,
               "segment": None if segment is pd.NA else int(segment), "persona": persona,
               "probability": None if probability != probability
               else round(float(probability), 6),
               "novel": bool(novel), "broad_segment": None if broad is pd.NA else int(broad),
               "source": source, "early_days": None if days is pd.NA else int(days),
               "age_days": float(age)}
        for name, value in zip(labels, values[9:9 + len(labels)], strict=True):
            row[name] = None if value is None or value is pd.NA else \
                (value if name.startswith("rfm") else int(value))
        at = 9 + len(labels)
        for name, value in zip(forecasts, values[at:at + len(forecasts)], strict=True):
            row[name] = None if value is None or value is pd.NA or value != value else \
                (bool(value) if name == "at_risk" else round(float(value), 6))
        predictor, shares = values[at + len(forecasts):] or (None, None)
        if early:
            row["early_predictor"] = predictor
            row["segment_probabilities"] = None if shares is None else \
                {str(s): round(p, 6) for s, p in shares.items()}
        rows.append(row)
    return rows
