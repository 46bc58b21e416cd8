"""Persona levels a team can act on: broad (2-3) > persona (3-8) > detailed (8-12), nested.

Works on the scaled matrix ``X`` the model clusters (``SegmentModel.transform``) and the
labels of the base fit, whatever algorithm made them. One module a job:

    rules     LevelRules, the thresholds a user may tune (pydantic only)
    fit       persona_levels: the K choice, edge users, the levels' result (rules 1-6 there)
    edge      the edge rule (far limits and their cap), shared with Spark's refit
    broad     the personas merged into 2 or 3 broad groups
    detailed  each persona split into detailed groups
    placing   new users placed on saved levels (assign_levels, assign_detailed)

    >>> from personae.cluster.levels import LevelRules, assign_levels, persona_levels
    >>> levels = persona_levels(X, base_labels, rules=LevelRules(max_share=0.5))
    >>> assign_levels(X_new, levels.to_dict())["persona"]

Names load on first use, so ``personae.config`` reads ``LevelRules`` without importing
scikit-learn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from personae._lazy import lazy_names

if TYPE_CHECKING:
    from personae.cluster._base import NOISE
    from personae.cluster.levels.broad import broad_groups
    from personae.cluster.levels.detailed import detailed_level
    from personae.cluster.levels.edge import far_cap, far_limits, far_users, widened
    from personae.cluster.levels.fit import PersonaLevels, Separation, persona_levels
    from personae.cluster.levels.placing import (
        LevelCentres,
        assign_detailed,
        assign_levels,
        nearest,
    )
    from personae.cluster.levels.rules import LevelRules

_HOMES = {
    "NOISE": "personae.cluster._base",
    "broad_groups": "personae.cluster.levels.broad",
    "detailed_level": "personae.cluster.levels.detailed",
    "far_cap": "personae.cluster.levels.edge",
    "far_limits": "personae.cluster.levels.edge",
    "far_users": "personae.cluster.levels.edge",
    "widened": "personae.cluster.levels.edge",
    "PersonaLevels": "personae.cluster.levels.fit",
    "Separation": "personae.cluster.levels.fit",
    "persona_levels": "personae.cluster.levels.fit",
    "LevelCentres": "personae.cluster.levels.placing",
    "assign_detailed": "personae.cluster.levels.placing",
    "assign_levels": "personae.cluster.levels.placing",
    "nearest": "personae.cluster.levels.placing",
    "LevelRules": "personae.cluster.levels.rules",
}

__all__ = [
    "NOISE",
    "LevelCentres",
    "LevelRules",
    "PersonaLevels",
    "Separation",
    "assign_detailed",
    "assign_levels",
    "broad_groups",
    "detailed_level",
    "far_cap",
    "far_limits",
    "far_users",
    "nearest",
    "persona_levels",
    "widened",
]


__getattr__, __dir__ = lazy_names(__name__, _HOMES, globals())
