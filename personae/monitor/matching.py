"""Match the segments of a new run to the old run's, so a persona keeps its id across
refits, and name each old segment's fate (after MONIC-style cluster-transition tracking).

Evidence: ``M[x, y]`` = users in both runs that were in old segment ``x`` and are in new
segment ``y``; ``out[x, y] = M[x, y] / |x|`` (share of x's users that went to y),
``in[x, y] = M[x, y] / |y|`` (share of y's users that came from x), both over the users in
both runs; and the distance between centroids in reference standard deviations (root mean
square over the model's features). Ids: the Hungarian assignment
(``scipy.optimize.linear_sum_assignment``) on ``(1 - Jaccard) + min(distance / 2, 1)``,
twins first (below); a new segment keeps the id of the old one it is assigned to when they
are twins or share at least ``MIN_JACCARD`` of their users, else it gets a new id.
Fates, checked in this order:

- survives (twin): the two centroids are each other's nearest and within
  ``SURVIVE_DISTANCE`` (0.5 reference SDs): the same persona, even where its users moved
  (between two periods many do; ``users_followed`` says how many went with it);
- absorbed: at least two old segments each send >= ``SURVIVE_OVERLAP`` (0.5) of their users
  to the same new segment (one of them may survive in it as its twin);
- splits: at least two new segments are each made >= 0.5 of x's users and each take
  >= ``SPLIT_PART`` (0.2) of x's users;
- survives: >= 0.5 of x's users are in one new segment;
- disappears: none of the above. A new segment that no old one survives as, splits into or
  is absorbed into emerges.

Without users in both runs only centroids are known: only twins survive; splits and
absorptions are not detected then.

Edge users (segment ``-1``: a density method's noise, persona levels' tiny groups and far
users) are not a persona: they are never matched, never given a stable id (they stay -1)
and no fate is written for them. Users who moved to or from the edge still count in the
sizes ``|x|`` and ``|y|`` above, so a persona whose users mostly became edge users does not
survive by overlap (``to_edge`` says what share did).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

SURVIVE_OVERLAP = 0.5
SPLIT_PART = 0.2
MIN_JACCARD = 0.2
SURVIVE_DISTANCE = 0.5


@dataclass(frozen=True)
class Matching:
    # One row per old segment, then one per emerging new segment: the fate, the new
    # segment(s) and their stable ids, the share of the old segment's users (in both runs)
    # who went there, the centroid distance in SDs, and where most of its users went.
    fates: pd.DataFrame
    ids: dict[int, int]  # new segment -> stable id
    thresholds: dict[str, float]


def centroid_distance(old: np.ndarray, new: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """RMS over features of the centroid difference in reference SDs, ``(k_old, k_new)``."""
    a = np.nan_to_num(old / sd)
    b = np.nan_to_num(new / sd)
    diff = a[:, None, :] - b[None, :, :]
    return np.sqrt(np.mean(diff ** 2, axis=2))


def overlap_counts(old_labels: np.ndarray, new_labels: np.ndarray, old_segments: list[int],
                   new_segments: list[int], users: np.ndarray | None = None) -> np.ndarray:
    """``M[x, y]`` for paired labels of the users in both runs (edge users ignored);
    ``users``: how many users each pair stands for (a transitions table), else one."""
    return _pair_counts(old_labels, new_labels, old_segments, new_segments, users)[0]


def edge_counts(old_labels: np.ndarray, new_labels: np.ndarray, old_segments: list[int],
                new_segments: list[int], users: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Users of each old segment who are edge users now, and users of each new segment who
    were edge users before."""
    _, to_edge, from_edge = _pair_counts(old_labels, new_labels, old_segments, new_segments,
                                         users)
    return to_edge, from_edge


def _pair_counts(old_labels: np.ndarray, new_labels: np.ndarray, old_segments: list[int],
                 new_segments: list[int], users: np.ndarray | None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    M = np.zeros((len(old_segments) + 1, len(new_segments) + 1), dtype=np.int64)
    oi = {s: i for i, s in enumerate(old_segments)}
    ni = {s: j for j, s in enumerate(new_segments)}
    edge_old, edge_new = len(old_segments), len(new_segments)
    weights = np.ones(len(old_labels), dtype=np.int64) if users is None else \
        np.asarray(users, dtype=np.int64)
    pairs = pd.DataFrame({"a": old_labels, "b": new_labels, "n": weights}).groupby(
        ["a", "b"])["n"].sum()
    for (a, b), n in pairs.items():
        i = oi.get(a, edge_old if a < 0 else None)
        j = ni.get(b, edge_new if b < 0 else None)
        if i is not None and j is not None:
            M[i, j] += int(n)
    return M[:-1, :-1], M[:-1, -1], M[-1, :-1]


def match_segments(old_segments: list[int], new_segments: list[int], distance: np.ndarray,
                   counts: np.ndarray | None = None,
                   old_names: dict[int, str] | None = None,
                   edge: tuple[np.ndarray, np.ndarray] | None = None) -> Matching:
    """Stable ids and fates (module docstring); ``counts`` from ``overlap_counts``,
    ``edge`` from ``edge_counts`` (users who moved to / from the edge)."""
    from scipy.optimize import linear_sum_assignment

    old_names = old_names or {}
    M = np.zeros_like(distance) if counts is None else np.asarray(counts, dtype=np.float64)
    to_edge, from_edge = (np.zeros(len(old_segments)), np.zeros(len(new_segments))) \
        if edge is None else (np.asarray(edge[0], float), np.asarray(edge[1], float))
    shared = M.sum() > 0
    size_old = M.sum(axis=1, keepdims=True) + to_edge[:, None]
    size_new = M.sum(axis=0, keepdims=True) + from_edge[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(size_old > 0, M / size_old, 0.0)
        inn = np.where(size_new > 0, M / size_new, 0.0)
        union = size_old + size_new - M
        jaccard = np.where(union > 0, M / union, 0.0)
    twins = _twins(distance)
    cost = (1 - jaccard) + np.minimum(distance / 2, 1.0) if shared else distance.copy()
    for i, j in twins.items():
        cost[i, j] = -1.0  # twins are assigned to each other first
    rows, cols = linear_sum_assignment(cost)
    assigned = dict(zip(cols.tolist(), rows.tolist(), strict=True))  # new j -> old i

    ids: dict[int, int] = {}
    fresh = max([*old_segments, -1]) + 1
    for j, seg in enumerate(new_segments):
        i = assigned.get(j)
        if i is not None and (twins.get(i) == j or (shared and jaccard[i, j] >= MIN_JACCARD)):
            ids[seg] = old_segments[i]
        else:
            ids[seg], fresh = fresh, fresh + 1

    fate: dict[int, tuple[str, list[int]]] = {i: ("survives", [j]) for i, j in twins.items()}
    if shared:
        for j in range(len(new_segments)):
            sources = np.flatnonzero(out[:, j] >= SURVIVE_OVERLAP)
            if len(sources) >= 2:
                for i in sources:
                    if int(i) not in twins:
                        fate[int(i)] = ("absorbed", [j])
        for i in range(len(old_segments)):
            if i in fate:
                continue
            parts = np.flatnonzero((inn[i] >= SURVIVE_OVERLAP) & (out[i] >= SPLIT_PART))
            if len(parts) >= 2:
                fate[i] = ("splits", parts.tolist())
            elif out[i].max(initial=0) >= SURVIVE_OVERLAP:
                fate[i] = ("survives", [int(np.argmax(out[i]))])

    rows_out = []
    reached: set[int] = set()
    for i, seg in enumerate(old_segments):
        kind, targets = fate.get(i, ("disappears", []))
        reached.update(targets)
        best = int(np.argmax(out[i])) if shared and len(new_segments) else \
            int(np.argmin(distance[i])) if len(new_segments) else None
        rows_out.append({
            "old_segment": seg, "old_persona": old_names.get(seg, f"segment {seg}"),
            "fate": {"absorbed": "absorbed into", "splits": "splits into"}.get(kind, kind),
            "new_segments": ";".join(str(new_segments[j]) for j in targets),
            "new_ids": ";".join(str(ids[new_segments[j]]) for j in targets),
            "users_followed": float(out[i, targets].sum()) if shared and targets
            else float("nan"),
            "distance_sd": float(distance[i, targets].min()) if targets else float("nan"),
            "largest_new_segment": new_segments[best] if best is not None else None,
            "share_to_largest": float(out[i, best]) if shared and best is not None
            else float("nan"),
            "to_edge": float(to_edge[i] / size_old[i, 0]) if shared and size_old[i, 0] > 0
            else float("nan"),
        })
    for j, seg in enumerate(new_segments):
        if j not in reached:
            source = int(np.argmax(inn[:, j])) if shared and len(old_segments) else None
            rows_out.append({
                "old_segment": None, "old_persona": "", "fate": "emerges",
                "new_segments": str(seg), "new_ids": str(ids[seg]),
                "users_followed": float("nan"),
                "distance_sd": float(distance[:, j].min()) if len(old_segments)
                else float("nan"),
                "largest_new_segment": seg,
                "share_to_largest": float(inn[source, j]) if source is not None
                else float("nan"),
                "to_edge": float("nan"),
            })
    fates = pd.DataFrame(rows_out).astype({"old_segment": "Int64",
                                           "largest_new_segment": "Int64"})
    log.info("matching: %s", ", ".join(f"{k} {v}" for k, v in
                                       fates["fate"].value_counts().items()))
    return Matching(fates=fates, ids=ids, thresholds={
        "survive_overlap": SURVIVE_OVERLAP, "split_part": SPLIT_PART,
        "min_jaccard_to_keep_id": MIN_JACCARD, "survive_distance_sd": SURVIVE_DISTANCE})


def _twins(distance: np.ndarray) -> dict[int, int]:
    """Old i -> new j where each is the other's nearest and within SURVIVE_DISTANCE."""
    if distance.size == 0:
        return {}
    nearest_new = np.argmin(distance, axis=1)
    nearest_old = np.argmin(distance, axis=0)
    return {i: int(j) for i, j in enumerate(nearest_new)
            if nearest_old[j] == i and distance[i, j] <= SURVIVE_DISTANCE}
