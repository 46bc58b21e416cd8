"""The thresholds of ``--algorithm auto`` a user may tune: one frozen settings object,
today's values as defaults (``SegmentSettings.auto`` in ``personae.config``).

Pydantic only: ``personae.config`` imports this module, and a settings file must be
readable without scikit-learn.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AutoRules(BaseModel):
    """How ``personae.cluster.auto`` rules candidates out and picks one (its ``RULE``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rows: int = Field(
        default=2_000, ge=100,
        description="Users every candidate is fitted and measured on (a seeded sample).")
    max_edge_share: float = Field(
        default=0.5, gt=0, le=1,
        description="A candidate leaving more than this share of users as edge users is out.")
    stable_ari: float = Field(
        default=0.8, ge=0, le=1,
        description="A candidate below this bootstrap ARI is out while another reaches it.")
    hollow: float = Field(
        default=2.0, gt=0,
        description="A density segment whose centre lies this many member spacings or more "
        "from its members is hollow (a ring, shell or crescent), and its method wins.")
    same_segments: float = Field(
        default=0.95, ge=0, le=1,
        description="K-means is used instead of the winner when their segments agree to "
        "this ARI or more.")
    # the suites in benchmarks/bench_algorithms.py give the same picks for slack 25 to 60
    bic_slack: float = Field(
        default=30.0, ge=0,
        description="Candidates within 2 x this BIC of the best (on the sample) are equally "
        "supported.")
    # the suites give the same picks for any lead from 0.03 to 0.21 (fcps/tetra's HDBSCAN
    # leads by 0.028 with a few edge users K-means does not need; sipu/aggregation's DBSCAN
    # by 0.213)
    dbcv_lead: float = Field(
        default=0.1, ge=0,
        description="A density method wins among equals when its DBCV leads every other "
        "method's by this much (a tenth of DBCV's [-1, 1] range).")


DEFAULT_AUTO_RULES = AutoRules()  # frozen: one shared instance is every default argument
