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

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from personae.data.event_options import read_event_options
from personae.errors import ConfigError, DataError

logger = logging.getLogger(__name__)


def assign_log(model_dir: str | Path, log: str | Path, *, mapping: dict[str, str] | None = None,
               reference_date: str | None = None, early: bool = False,
               progress: Any = None) -> tuple[pd.DataFrame, Any]:
    """Each user of the log: ``early_path.COLUMNS``; and the ``EventReport`` of the log.
    ``early``: users younger than the early model's longest window get the early model."""
    from personae.features.event_remap import remap
    from personae.features.events import event_rows, from_events
    from personae.features.table import id_text
    from personae.serve.early import has_early_model
    from personae.serve.early_path import assign_features
    from personae.serve.loaded import RequestError, load_model

    if early and not has_early_model(model_dir):
        raise ConfigError(f"--early: {model_dir} has no early model (early/early.json); make "
                          "one with 'personae run --events --early-days 7,14,30' or "
                          "'personae early RUN_DIR EVENTS'")
    loaded = load_model(model_dir)
    saved, options = read_event_options(model_dir)
    given, remapped = remap(str(log), saved, mapping, options.get("table"))
    if remapped:  # a new export may name its columns otherwise: found by name again
        logger.warning(remapped)
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
                                None if early else False, rows_of, reference_date)
    except RequestError as exc:
        raise DataError(str(exc).removeprefix("events: ").removeprefix("early: "),
                        source=str(log)) from None
    return table, result.report
