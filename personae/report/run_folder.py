"""Read a saved run folder: everything the report and the personas need, nothing more."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from personae.errors import DataError
from personae.features.semantics import FeatureMeaning, Semantics

log = logging.getLogger(__name__)


@dataclass
class RunFolder:
    """The saved outputs of one run; optional parts are None when the run did not write them."""

    path: Path
    info: dict[str, Any]
    users: pd.DataFrame
    profiles: pd.DataFrame
    k_table: pd.DataFrame | None = None
    algorithm_table: pd.DataFrame | None = None
    hierarchy: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    personas: dict[str, Any] | None = None
    journeys: dict[str, Any] | None = None
    user_map: pd.DataFrame | None = None
    semantics: Semantics = field(default_factory=Semantics)
    sequence_profiles: list[dict[str, Any]] | None = None

    @classmethod
    def from_result(cls, result: Any, path: Path | None = None) -> RunFolder:
        """The view of a run result still in memory (``path``: where it was saved)."""
        return cls(path or Path("."), result.info, result.users, result.profiles,
                   k_table=result.k_table, algorithm_table=result.algorithm_table,
                   hierarchy=result.hierarchy, personas=result.personas,
                   journeys=result.journeys, user_map=result.user_map,
                   semantics=result.semantics,
                   sequence_profiles=result.extra.get("sequence_profiles"))

    @property
    def id_column(self) -> str:
        return str(self.info.get("id_column") or self.users.columns[0])

    @property
    def has_model(self) -> bool:
        return (self.path / "model" / "model.json").is_file()


def load_run(path: str | Path) -> RunFolder:
    """Load ``path`` (a folder written by ``SegmentationResult.save``)."""
    folder = Path(path)
    run_json = folder / "run.json"
    if not run_json.is_file():
        raise DataError("not a personae run folder (no run.json)", source=str(folder))
    try:
        info = json.loads(run_json.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"run.json is not valid JSON ({exc})", source=str(run_json)) from None
    users = _read_users(folder)
    profiles_path = folder / "segment_profiles.csv"
    if not profiles_path.is_file():
        raise DataError("missing segment_profiles.csv", source=str(folder))
    profiles = pd.read_csv(profiles_path, keep_default_na=False,
                           na_values=[""], dtype={"feature": "string"})
    profiles["feature"] = profiles["feature"].astype(object)
    run = RunFolder(folder, info, users, profiles,
                    k_table=_optional_csv(folder / "k_selection.csv"),
                    algorithm_table=_optional_csv(folder / "algorithm_selection.csv"))
    run.hierarchy = optional_json(folder / "hierarchy.json")
    run.personas = optional_json(folder / "personas.json")
    run.journeys = optional_json(folder / "journeys.json")
    run.sequence_profiles = optional_json(folder / "sequence_profiles.json")
    if (folder / "user_map.parquet").is_file():
        run.user_map = pd.read_parquet(folder / "user_map.parquet")
    run.semantics = _saved_semantics(info.get("feature_meanings") or {})
    if "distinguishing" not in profiles.columns:
        _recompute_profiles(run)
    return run


def _read_users(folder: Path) -> pd.DataFrame:
    parquet, csv = folder / "users_segmented.parquet", folder / "users_segmented.csv"
    if parquet.is_file():
        return pd.read_parquet(parquet)
    if csv.is_file():
        return pd.read_csv(csv)
    raise DataError("missing users_segmented.parquet / .csv", source=str(folder))


def optional_json(path: Path) -> Any:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"not valid JSON ({exc})", source=str(path)) from None


def _saved_semantics(meanings: dict[str, Any]) -> Semantics:
    """The feature meanings run.json recorded (an event log's own, the user's YAML)."""
    user = {}
    for name, m in meanings.items():
        if isinstance(m, dict) and m.get("source") in ("user", "builtin") and m.get("label"):
            user[name] = FeatureMeaning(name=name, label=m["label"], unit=m.get("unit", ""),
                                        high=m.get("high", ""), low=m.get("low", ""),
                                        themes=tuple(m.get("themes") or ()),
                                        pain_when=m.get("pain_when"), source=m["source"])
    return Semantics(user=user)


def _optional_csv(path: Path) -> pd.DataFrame | None:
    return pd.read_csv(path) if path.is_file() else None


def _recompute_profiles(run: RunFolder) -> None:
    """Older run folders have no significance columns: recompute them from the users."""
    if not run.has_model:
        run.notes.append("segment_profiles.csv has no significance tests and there is no "
                         "model to recompute them; z-scores are used instead.")
        return
    from personae.model import SegmentModel
    from personae.profile.segments import feature_frame, segment_profiles

    model = SegmentModel.load(run.path / "model")
    features = feature_frame(run.users, model.preprocessor_, str(run.path))
    run.profiles = segment_profiles(features, run.users["segment"].to_numpy(),
                                    model.preprocessor_)
    run.notes.append("segment_profiles.csv predates the significance tests; they were "
                     "recomputed from users_segmented and the saved model.")
