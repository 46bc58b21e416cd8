"""``model/events.json``: how the model's training log was read (the role -> column mapping
it resolved and the options that change features), so ``personae assign --events`` reads a
new log the same way. Folders written before it existed fall back to ``run.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from personae.data.documents import read_document, write_document
from personae.data.formats import RUN_FILE, RUN_FORMAT, RUN_VERSIONS
from personae.errors import ConfigError, ModelFileError

FILE = "events.json"
FORMAT = "personae.event-options"
FORMAT_VERSION = 1
#: EventsConfig fields that change the features of a log (the rest: resources, run-only).
FEATURE_OPTIONS = ("table", "time_format", "session_gap_minutes", "top_event_types",
                   "keep_duplicates", "on_bad_rows", "event_group")


def save_event_options(model_dir: Path, mapping: dict[str, str], events: Any,
                       event_group: str | None = None) -> Path:
    """Write ``events.json`` into a model folder being staged; ``events``: EventsConfig;
    ``event_group``: the rule that grouped the training log's labels ("" none), so a new
    log is grouped alike whatever its own labels would decide."""
    options = {k: v for k, v in events.model_dump().items() if k in FEATURE_OPTIONS}
    if event_group is not None:
        options["event_group"] = event_group
    return write_document(Path(model_dir) / FILE, {"mapping": dict(mapping),
                                                   "options": options},
                          FORMAT, FORMAT_VERSION)


def read_event_options(model_dir: str | Path) -> tuple[dict[str, str], dict[str, Any]]:
    """The mapping and feature options a model's training log was read with."""
    folder = Path(model_dir)
    path = folder / FILE
    document = read_document(path, FORMAT, (FORMAT_VERSION,), required=False)
    try:
        if document is not None:
            return dict(document["mapping"]), dict(document["options"])
        info = read_document(folder.parent / RUN_FILE, RUN_FORMAT, RUN_VERSIONS,
                             required=False, legacy=True)
        if info is not None:
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
