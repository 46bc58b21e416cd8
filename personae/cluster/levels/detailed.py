"""The detailed level: each persona split into groups in proportion to its size (8-12 in
all), kept only when every group is big enough to describe."""

from __future__ import annotations

import numpy as np

from personae.cluster._base import NOISE
from personae.cluster.levels._learn import kmeans, sample
from personae.cluster.levels.placing import assign_detailed
from personae.cluster.levels.rules import LevelRules


def detailed_level(X: np.ndarray, labels: np.ndarray, centers: np.ndarray, seed: int,
                   rules: LevelRules
                   ) -> tuple[np.ndarray | None, dict[int, int], np.ndarray | None]:
    """The detailed level of the personas ``labels`` (``-1`` = edge) with ``centers``: each
    persona split by K-means into groups in proportion to its size; labels, detailed ->
    persona, and the groups' centres (rounded as levels.json keeps them, and the labels
    placed by them, so a saved model places users as the fit). ``(None, {}, None)`` when
    the level is not supported."""
    k = len(centers)
    n = len(X)
    target = int(np.clip(2 * k, *rules.detailed_target))
    if target <= k or n < target * 50:
        return None, {}, None
    sizes = np.bincount(labels[labels != NOISE], minlength=k).astype(float)
    quota = sizes / sizes.sum() * target
    parts = np.maximum(1, np.floor(quota)).astype(int)
    for p in np.argsort(-(quota - np.floor(quota))):
        if parts.sum() >= target:
            break
        parts[p] += 1
    parent: dict[int, int] = {}
    found: list[np.ndarray] = []
    nxt = 0
    for p in range(k):
        rows = np.flatnonzero(labels == p)
        learn = rows[sample(len(rows), rules.fit_rows, seed + p)]
        # a persona of repeated users has fewer distinct rows than groups to split into
        m = int(min(parts[p], max(1, len(rows) // 25), len(np.unique(X[learn], axis=0))))
        found.extend(centers[p][None] if m == 1 else
                     kmeans(X[learn], m, seed + p, n_init=2).cluster_centers_)
        for s in range(m):
            parent[nxt + s] = p
        nxt += m
    info = {"detailed_centers": np.asarray(found, dtype=float).round(6).tolist(),
            "detailed_to_persona": parent}
    detailed = assign_detailed(X, labels, info)
    if detailed is None:
        return None, {}, None
    counts = np.bincount(detailed[detailed != NOISE], minlength=nxt)
    if nxt < rules.detailed_target[0] or counts.min() < rules.detailed_min_share * n:
        return None, {}, None
    return detailed, parent, np.asarray(info["detailed_centers"])
