"""The persona-level rules a user may tune: one frozen settings object, today's values as
defaults (``SegmentSettings.levels`` in ``personae.config``).

Pydantic only: ``personae.config`` imports this module, and a settings file must be
readable without scikit-learn.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class LevelRules(BaseModel):
    """How the persona levels are chosen (see ``personae.cluster.levels``, rules 1-6)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    k_range: tuple[int, int] = Field(
        default=(3, 8),
        description="Personas tried when the data is a continuum (low, high); "
        "distinct groups may be fewer (distinct_k_min).")
    distinct_k_min: int = Field(
        default=2, ge=2,
        description="The fewest personas distinct groups may be: two clear groups "
        "are two personas.")
    max_share: float = Field(
        default=0.60, gt=0, le=1,
        description="A K is actionable only when no persona holds more "
        "than this share of users.")
    big_share: float = Field(
        default=0.05, gt=0, le=1,
        description="A persona of at least this share of users counts "
        "towards min_big.")
    min_big: int = Field(
        default=3, ge=1,
        description="Personas of big_share or more a continuum K needs to be "
        "actionable.")
    edge_share: float = Field(
        default=0.015, ge=0, lt=1,
        description="A group under this share of users is too small to be "
        "a persona: its users are edge users.")
    max_far_share: float = Field(
        default=0.02, ge=0, le=1,
        description="At most this share of users are edge users for lying "
        "far from their persona (the farthest first).")
    far_iqr: float = Field(
        default=3.0, gt=0,
        description="A user is far out beyond Q3 + far_iqr x IQR of their "
        "persona's distances to its centre (Tukey's 'far out' at 3).")
    far_floor: float = Field(
        default=0.1, ge=0,
        description="The IQR a far limit uses is at least this share of the mean "
        "distance of users to their persona's centre: a persona of identical users has no "
        "spread of its own, and its members must not fall out of it.")
    stable_ari: float = Field(
        default=0.8, ge=0, le=1,
        description="A K is stable when its bootstrap ARI reaches this.")
    distinct_silhouette: float = Field(
        default=0.5, ge=-1, le=1,
        description="Silhouette at or above this reads 'distinct groups', "
        "below it 'regions of a continuum'.")
    sample: int = Field(
        default=5_000, ge=100,
        description="Users the silhouette is measured on (silhouette is "
        "O(n^2)).")
    dbcv_sample: int = Field(
        default=2_000, ge=100,
        description="Users the DBCV of a density base fit is measured on.")
    n_init: int = Field(
        default=4, ge=1,
        description="K-means starts (k-means++) for each K tried.")
    bootstraps: int = Field(
        default=4, ge=1,
        description="Bootstrap resamples that measure a K's stability.")
    boot_fraction: float = Field(
        default=0.8, gt=0, lt=1,
        description="Share of users in each bootstrap resample.")
    detailed_target: tuple[int, int] = Field(
        default=(8, 12),
        description="Detailed groups in all (low, high), nested in the personas.")
    detailed_min_share: float = Field(
        default=0.005, ge=0, lt=1,
        description="The detailed level is kept only when every detailed "
        "group holds at least this share of users.")
    min_users: int = Field(
        default=30, ge=1,
        description="Fewer users than this are one persona.")
    fit_rows: int = Field(
        default=20_000, ge=100,
        description="Above this many users, the K choice, its stability and "
        "each detailed split are learnt on a seeded sample of this size.")

    @model_validator(mode="after")
    def _ranges(self) -> LevelRules:
        for name in ("k_range", "detailed_target"):
            low, high = getattr(self, name)
            if not 2 <= low <= high:
                raise ValueError(f"levels.{name} must be two ints with 2 <= low <= high; got "
                                 f"({low}, {high})")
        if self.distinct_k_min > self.k_range[1]:
            raise ValueError(f"levels.distinct_k_min must be at most k_range's high "
                             f"{self.k_range[1]}; got {self.distinct_k_min}")
        return self


DEFAULT_RULES = LevelRules()  # frozen: one shared instance is every default argument
