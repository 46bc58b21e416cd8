"""The report's view of a run: a result in memory, or a saved run folder read through
``personae.data.run_folder`` (plus the notes and semantics the report adds)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from personae.data.run_folder import Run, load_run
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


def folder_view(path: str | Path) -> RunFolder:
    """The report's view of ``path`` (a folder written by ``SegmentationResult.save``),
    read through ``personae.data.run_folder``."""
    saved = load_run(path)
    run = RunFolder(saved.path, saved.info, saved.users, saved.profiles,
                    k_table=saved.k_table, algorithm_table=saved.algorithm_table,
                    hierarchy=saved.hierarchy, personas=saved.personas or None,
                    journeys=saved.journeys, user_map=saved.user_map,
                    sequence_profiles=saved.sequence_profiles)
    run.semantics = _saved_semantics(saved.info.get("feature_meanings") or {},
                                     (saved.personas or {}).get("run") or {})
    if "distinguishing" not in run.profiles.columns:
        _recompute_profiles(run, saved)
    return run


def _saved_semantics(meanings: dict[str, Any], words: dict[str, Any]) -> Semantics:
    """The feature meanings run.json recorded (an event log's own, the user's YAML), and the
    noun and purchase words personas.json was worded with."""
    user = {}
    for name, m in meanings.items():
        if isinstance(m, dict) and m.get("source") in ("user", "builtin") and m.get("label"):
            user[name] = FeatureMeaning(name=name, label=m["label"], unit=m.get("unit", ""),
                                        high=m.get("high", ""), low=m.get("low", ""),
                                        themes=tuple(m.get("themes") or ()),
                                        pain_when=m.get("pain_when"), source=m["source"])
    return Semantics(user=user, noun=str(words.get("noun") or "users"),
                     purchases=bool(words.get("purchase_words", True)))


def _recompute_profiles(run: RunFolder, saved: Run) -> None:
    """Older run folders have no significance columns: recompute them from the users."""
    if not run.has_model:
        run.notes.append("segment_profiles.csv has no significance tests and there is no "
                         "model to recompute them; z-scores are used instead.")
        return
    from personae.profile.segments import segment_profiles

    model = saved.model
    features = model.preprocessor_.clean(run.users, str(run.path))
    run.profiles = segment_profiles(features, run.users["segment"].to_numpy(),
                                    model.preprocessor_)
    run.notes.append("segment_profiles.csv predates the significance tests; they were "
                     "recomputed from users_segmented and the saved model.")
