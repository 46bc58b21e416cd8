"""The result of a run, in memory: what ``segment()`` hands to the report, the run folder
(``data/run_folder.save_run``) and the caller."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from personae.config import RunConfig
from personae.data.run_folder import save_run
from personae.data.segments import persona_column, persona_names, segment_rows
from personae.features.semantics import Semantics
from personae.model import SegmentModel

if TYPE_CHECKING:  # `personae assign` reads users_table without the monitor package
    from personae.monitor.reference import Reference


@dataclass(frozen=True, repr=False)
class SegmentationResult:
    """Everything one run produced, in memory; ``save(folder)`` writes it all and the report
    renders it (``personae.report.write_report(result, folder)``) without reading the input.
    """

    source: str
    data: pd.DataFrame = field(repr=False)
    ids: pd.Series = field(repr=False)
    labels: np.ndarray = field(repr=False)
    profiles: pd.DataFrame = field(repr=False)
    k_table: pd.DataFrame | None = field(repr=False)
    model: SegmentModel = field(repr=False)
    info: dict[str, Any] = field(repr=False)
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    config: RunConfig = field(default_factory=RunConfig, repr=False)
    personas: dict[str, Any] = field(default_factory=dict, repr=False)
    journeys: dict[str, Any] | None = field(default=None, repr=False)
    user_map: pd.DataFrame | None = field(default=None, repr=False)
    semantics: Semantics = field(default_factory=Semantics, repr=False)
    reference: Reference | None = field(default=None, repr=False)
    # the users table the run already built (for its personas): built once per run
    built_users: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    @property
    def algorithm(self) -> dict[str, Any]:
        """Which algorithm ran, with every parameter (automatic ones filled in), and why."""
        return dict(self.info["algorithm"])

    @property
    def memberships(self) -> pd.DataFrame | None:
        """Probability of every segment per user (Gaussian mixtures; else None)."""
        return self.extra.get("memberships")

    @property
    def outliers(self) -> np.ndarray:
        """Edge users (segment -1 of the density algorithms) as a boolean mask."""
        return np.asarray(self.labels) < 0

    @property
    def novel(self) -> np.ndarray:
        """Users farther from every segment than 99.9% of users (x 1.5)."""
        return np.asarray(self.extra["novel"])

    @property
    def hierarchy(self) -> dict[str, Any] | None:
        """Taxonomy nodes and dendrogram data (hierarchical; else None)."""
        return self.extra.get("hierarchy")

    @property
    def stability(self) -> dict[str, Any] | None:
        return self.info.get("stability")

    @property
    def algorithm_table(self) -> pd.DataFrame | None:
        """The candidates ``--algorithm auto`` compared (else None)."""
        return self.extra.get("algorithm_table")

    @property
    def n_segments(self) -> int:
        return int(self.model.n_clusters_)

    @cached_property
    def sizes(self) -> pd.Series:
        """Users per segment (edge users as -1), counted once: the summary, the report and
        the saved folder each ask."""
        return pd.Series(self.labels).value_counts().sort_index().rename("size")

    @cached_property
    def users(self) -> pd.DataFrame:
        """One row per user: id, segment, then the input columns (built once)."""
        if self.built_users is not None:
            return self.built_users
        return with_personas(users_table(self.data, self.ids, self.labels,
                                         self.extra.get("user_columns")), self.personas)

    def top_features(self, n: int = 3) -> dict[int, pd.DataFrame]:
        # imported here: `personae assign` reads users_table alone, without scipy.stats
        from personae.profile.segments import top_features

        return top_features(self.profiles, n)

    def segments_summary(self) -> list[dict[str, Any]]:
        """Per segment: id, persona name, size (users), share (what a service answers with)."""
        return segment_rows(self.personas, self.sizes)

    def __repr__(self) -> str:
        names = [p["name"] for p in self.personas.get("personas", [])]
        return (f"SegmentationResult(source={self.source!r}, users={len(self.labels):,}, "
                f"segments={self.n_segments}, algorithm={self.algorithm['name']!r}, "
                f"personas={names!r})")

    def _repr_html_(self) -> str:
        """Jupyter's view: the personas with sizes and facts, and the map when made."""
        from personae.report.notebook import notebook_html

        noun = "persona" if self.n_segments == 1 else "personas"
        return notebook_html(self.personas, self.user_map, len(self.labels),
                             f"{self.n_segments} {noun} of {len(self.labels):,} users from "
                             f"{self.source} ({self.algorithm['name']})")

    def show(self) -> None:
        """Display the run's report inside a notebook, built from memory (nothing written)."""
        from personae.report.build import show

        show(self)

    def save(self, folder: str | Path) -> Path:
        """Write the run folder (``personae.data.run_folder.save_run``); read it back with
        ``personae.load_run``."""
        return save_run(self, folder)


def users_table(data: pd.DataFrame, ids: pd.Series, labels: np.ndarray,
                extra: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """id, segment, the algorithm's own columns (probability..., novel, level_1...), then
    the input columns (renamed input_<name> where they would clash)."""
    front = pd.DataFrame({str(ids.name): ids.to_numpy(), "segment": labels, **(extra or {})})
    rest = data.drop(columns=[ids.name], errors="ignore")
    rest = rest.rename(columns={c: f"input_{c}" for c in rest.columns
                                if c in front.columns})
    return pd.concat([front, rest.reset_index(drop=True)], axis=1)


def with_personas(users: pd.DataFrame, personas: dict[str, Any]) -> pd.DataFrame:
    """``users`` with each user's persona name beside their segment, so a CRM joins one
    file (an input column named ``persona`` becomes ``input_persona``); unchanged when the
    run has no personas."""
    names = persona_names(personas)
    if not names:
        return users
    users = users.rename(columns={"persona": "input_persona"})
    users.insert(int(users.columns.get_loc("segment")) + 1, "persona",
                 persona_column(users["segment"].to_numpy(), names))
    return users
