"""``personae assign MODEL --events LOG``: a whole event log -> per-user features read the
way the model's training log was read -> segments, by the code path of
``POST /assign/events`` (``early_path.assign_features``); no FastAPI.

How the log is read comes from the model folder: ``model/events.json``, written by
``personae run --events`` (the role -> column mapping it resolved and the options that
change features: time format, session gap, duplicates, table). Folders written before it
existed fall back to the run folder's ``run.json`` beside the model.

Reference date (what recency and tenure count to): the midnight that ends the day of the
log's last event, as ``personae features`` counts by default, so a user's features here
equal their row of ``personae features`` on the same log; ``reference_date`` (e.g. today)
overrides it. The training run's reference date is not reused: it would make a newer log's
events lie in the future.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from personae.data.documents import read_document, write_document
from personae.errors import ConfigError, DataError, ModelFileError

FILE = "events.json"
FORMAT = "personae.event-options"
FORMAT_VERSION = 1
#: EventsConfig fields that change the features of a log (the rest: resources, run-only).
FEATURE_OPTIONS = ("table", "time_format", "session_gap_minutes", "top_event_types",
                   "keep_duplicates", "on_bad_rows")


def save_event_options(model_dir: Path, mapping: dict[str, str], events: Any) -> Path:
    """Write ``events.json`` into a model folder being staged; ``events``: EventsConfig."""
    options = {k: v for k, v in events.model_dump().items() if k in FEATURE_OPTIONS}
    return write_document(Path(model_dir) / FILE, {"mapping": dict(mapping),
                                                   "options": options},
                          FORMAT, FORMAT_VERSION)


def read_event_options(model_dir: str | Path) -> tuple[dict[str, str], dict[str, Any]]:
    """The mapping and feature options a model's training log was read with."""
    from personae.data.run_folder import load_run

    folder = Path(model_dir)
    path = folder / FILE
    document = read_document(path, FORMAT, (FORMAT_VERSION,), required=False)
    try:
        if document is not None:
            return dict(document["mapping"]), dict(document["options"])
        if (folder.parent / "run.json").is_file():
            info = load_run(folder.parent).info
            if info.get("input", {}).get("kind") == "events":
                given = (info.get("config", {}).get("input", {}).get("events") or {})
                options = {k: v for k, v in given.items() if k in FEATURE_OPTIONS}
                return dict(info["input"]["mapping"]), options
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelFileError(f"{path}: cannot read how the training log was read "
                             f"({exc.__class__.__name__}: {exc})") from None
    raise ConfigError(f"{folder} was not made from an event log (no {FILE}, no run.json of "
                      "an --events run beside it); assign a user table instead, or compute "
                      "features with 'personae features' first")


def assign_log(model_dir: str | Path, log: str | Path, *, mapping: dict[str, str] | None = None,
               reference_date: str | None = None, early: bool = False,
               progress: Any = None) -> tuple[pd.DataFrame, Any]:
    """Each user of the log: ``early_path.COLUMNS``; and the ``EventReport`` of the log.
    ``early``: users younger than the early model's longest window get the early model."""
    from personae.features.events import event_rows, from_events
    from personae.serve.early import has_early_model
    from personae.serve.early_path import assign_features, id_text
    from personae.serve.loaded import RequestError, load_model

    if early and not has_early_model(model_dir):
        raise ConfigError(f"--early: {model_dir} has no early model (early/early.json); make "
                          "one with 'personae run --events --early-days 7,14,30' or "
                          "'personae early RUN_DIR EVENTS'")
    loaded = load_model(model_dir)
    saved, options = read_event_options(model_dir)
    given = {**saved, **(mapping or {})}
    result = from_events(str(log), reference_date=reference_date, progress=progress,
                         **{**options, "top_event_types": max(options.get("top_event_types", 8),
                                                              1000)},
                         **given)  # type: ignore[arg-type]
    rows: list[pd.DataFrame] = []

    def rows_of(keys: set[str]) -> pd.DataFrame:
        if not rows:
            rows.append(event_rows(str(log), dict(result.report.mapping),
                                   table=options.get("table"),
                                   time_format=options.get("time_format")))
        frame = rows[0]
        return frame[id_text(frame[result.report.mapping["user"]]).isin(keys).to_numpy()]

    try:
        table = assign_features(loaded, result.frame, dict(result.report.mapping),
                                None if early else False, rows_of)
    except RequestError as exc:
        raise DataError(str(exc).removeprefix("events: ").removeprefix("early: "),
                        source=str(log)) from None
    return table, result.report
