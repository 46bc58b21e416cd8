"""The one place the monitor touches the model and the run folder (re-point it here when
their layout changes)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personae.data.run_folder import load_run as read_run
from personae.data.segments import persona_names
from personae.errors import DataError, ModelFileError
from personae.features.table import category_text, coerce_numeric, text_columns

log = logging.getLogger(__name__)

MISSING = "(missing)"


def model_numeric(model: Any) -> list[str]:
    return list(model.preprocessor_.numeric_)


def model_categorical(model: Any) -> list[str]:
    return sorted(model.preprocessor_.categorical_)


def numeric_values(frame: pd.DataFrame, name: str, source: str) -> np.ndarray:
    if name not in frame.columns:
        raise DataError(f"column {name!r} used by the model is missing", source=source)
    return coerce_numeric(frame[name], source, name)


def category_values(frame: pd.DataFrame, name: str) -> pd.Series:
    return category_text(frame[name]).fillna(MISSING).astype(str)


def segment_matrix(model: Any, frame: pd.DataFrame, source: str) -> np.ndarray:
    """The users in the model's (scaled) space."""
    return np.asarray(model.transform(frame, source))


def assign(model: Any, X: np.ndarray) -> tuple[np.ndarray, float]:
    """Segment of each row of the model-space matrix (``SegmentModel.assign_matrix``: the
    persona level where the model answers with one, edge users -1), and the share of novel
    users."""
    columns = model.assign_matrix(X)
    novel = float(np.mean(columns["novel"])) if len(X) else 0.0
    return np.asarray(columns["segment"]), novel


def frame_ids(model: Any, frame: pd.DataFrame, source: str) -> pd.Series | None:
    """User ids of a new table (None when it has no id column: no transitions then). Not
    checked for duplicates: transitions keep a repeated id's first row."""
    column = model.id_column_
    if column is None or column not in frame.columns:
        return None
    return frame[column]


@dataclass(frozen=True, eq=False)
class RunFolder:
    """What a finished run folder holds, as the monitor needs it."""

    path: Path
    model: Any
    info: dict[str, Any]
    users: pd.DataFrame  # id column, segment, input columns (renamed back)
    id_column: str
    names: dict[int, str]
    personas: dict[str, Any] | None = None

    @property
    def labels(self) -> np.ndarray:
        return self.users["segment"].to_numpy()

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

    def event_mapping(self) -> dict[str, str]:
        """The event-log mapping the run used, where run.json records one."""
        recorded = self.info.get("input", {})
        events_config = (self.info.get("config", {}).get("input") or {}).get("events")
        places = [recorded if recorded.get("kind") == "events" else None, events_config,
                  self.info.get("events"), recorded.get("events")]
        personas = self.personas.get("run") if isinstance(self.personas, dict) else None
        places.append(personas.get("events") if isinstance(personas, dict) else None)
        for where in places:
            if isinstance(where, dict) and isinstance(where.get("mapping"), dict):
                return {str(k): str(v) for k, v in where["mapping"].items() if v}
        return {}


def load_run(run_dir: str | Path) -> RunFolder:
    """The monitor's view of a run folder, read through ``personae.data.run_folder``."""
    saved = read_run(run_dir)
    model = saved.model
    users_path = saved.path / "users_segmented.parquet"
    if not users_path.is_file():
        raise ModelFileError(f"{users_path}: missing; the run folder is incomplete")
    users = text_columns(saved.users, str(users_path))
    if "segment" not in users.columns:
        raise DataError("no 'segment' column", source=str(users_path))
    # users_table renamed input columns that clashed with its own (input_segment ...)
    training = set(saved.info.get("input", {}).get("columns", []))
    back = {c: c[len("input_"):] for c in users.columns
            if c.startswith("input_") and c[len("input_"):] in training}
    users = users.rename(columns=back) if back else users
    return RunFolder(path=saved.path, model=model, info=saved.info, users=users,
                     id_column=saved.id_column,
                     names=_named(saved.names, model.n_clusters_),
                     personas=saved.personas)


def run_from_result(result: Any, path: str | Path) -> RunFolder:
    """A ``SegmentationResult`` in memory as the run folder it saves to ``path`` (a refit
    is compared without reading back what was just written)."""
    return RunFolder(path=Path(path), model=result.model, info=result.info,
                     users=result.users, id_column=str(result.ids.name),
                     names=_named(persona_names(result.personas), result.n_segments),
                     personas=result.personas)


def _named(found: dict[int, str], n_segments: int) -> dict[int, str]:
    """Every segment 0..n-1 named: its persona, else 'segment N'."""
    return {**{s: f"segment {s}" for s in range(n_segments)}, **found}


def run_ids(run: RunFolder) -> pd.Series:
    return run.users[run.id_column] if run.id_column in run.users.columns else \
        pd.Series(np.arange(len(run.users)), name=run.id_column)
