"""Placing users on saved levels: the nearest persona, its broad group, the detailed group
within it, and the edge rule's limits. What the saved model and the service call per user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from personae.cluster._base import NOISE, nearest_centre


class _Summarised(Protocol):
    """Fitted levels (``fit.PersonaLevels``) as placing reads them: their saved summary.
    Placing does not import fit, which imports placing."""

    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class LevelCentres:
    """What placing a user needs, as arrays: a service prepares it once per model rather
    than per request (the saved summary holds lists)."""

    centers: np.ndarray
    limits: np.ndarray
    to_broad: np.ndarray
    edge_centers: np.ndarray

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> LevelCentres:
        centers = np.asarray(info["centers"], dtype=np.float64)
        to_broad = np.zeros(len(centers), dtype=int)
        for persona, group in info["persona_to_broad"].items():
            to_broad[int(persona)] = int(group)
        return cls(centers=centers,
                   limits=np.array([np.inf if v is None else v for v in info["far_distance"]]),
                   to_broad=to_broad,
                   edge_centers=np.asarray(info.get("edge_centers") or [],
                                           dtype=np.float64).reshape(-1, centers.shape[1]))


def assign_levels(X: np.ndarray, levels: _Summarised | LevelCentres | dict[str, Any]
                  ) -> dict[str, np.ndarray]:
    """Place new users: nearest persona centre, its broad group, edge when farther from it
    than the persona's far limit or nearer a group too small to be a persona. Takes the
    levels, their ``to_dict()`` or its :class:`LevelCentres`."""
    if not isinstance(levels, LevelCentres):
        info = levels if isinstance(levels, dict) else levels.to_dict()
        levels = LevelCentres.from_info(info)
    X = np.asarray(X)
    # the matrix's own precision: a float64 copy of 10M float32 rows is 1.2 GB more
    X = X.astype(X.dtype if X.dtype in (np.float32, np.float64) else np.float64, copy=False)
    closest, distance = nearest_centre(X, levels.centers.astype(X.dtype, copy=False))
    edge = distance > levels.limits[closest]
    if len(levels.edge_centers):
        _, to_tiny = nearest_centre(X, levels.edge_centers.astype(X.dtype, copy=False))
        edge |= to_tiny < distance
    broad = levels.to_broad[closest]
    return {"persona": np.where(edge, NOISE, closest), "broad": np.where(edge, NOISE, broad),
            "nearest": closest, "edge": edge}


def assign_detailed(X: np.ndarray, persona: np.ndarray, info: dict[str, Any]
                    ) -> np.ndarray | None:
    """The detailed level of users placed at ``persona``: the nearest detailed centre among
    their persona's own (edge users stay edge); None when the levels (``info``, levels.json)
    have no detailed level."""
    centers = np.asarray(info.get("detailed_centers") or [], dtype=np.float64)
    if not len(centers):
        return None
    X = np.asarray(X)
    X = X.astype(X.dtype if X.dtype in (np.float32, np.float64) else np.float64, copy=False)
    centers = centers.astype(X.dtype)
    parent = np.full(len(centers), NOISE)
    for group, owner in info["detailed_to_persona"].items():
        parent[int(group)] = int(owner)
    persona = np.asarray(persona)
    out = np.full(len(X), NOISE, dtype=np.int32)
    for owner in np.unique(persona[persona != NOISE]):
        rows = np.flatnonzero(persona == owner)
        groups = np.flatnonzero(parent == owner)
        if len(groups):
            out[rows] = groups[nearest_centre(X[rows], centers[groups])[0]]
    return out


nearest = nearest_centre  # the levels' name for the one rule (exported by the package)
