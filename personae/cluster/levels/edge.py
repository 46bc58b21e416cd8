"""The edge rule: how far from its persona a user may lie before they are an edge user.

One rule for the embedded fit and Spark's refit (``personae.spark.refit``): both summarise
each group's distances (users, Q1, Q3, mean) and call :func:`far_limits`, then cap the far
users at ``max_far_share`` (:func:`far_cap`) and move the limits out to the users the cap
kept in (:func:`widened`).
"""

from __future__ import annotations

import numpy as np

from personae.cluster.levels.rules import LevelRules

CHUNK_ROWS = 500_000
# A limit is never nearer its group's bulk than this (scaled units): a user placed again
# through the saved model lies a little off the fit's distance (float32 arithmetic, the
# centres rounded to 6 decimals in levels.json), and that must not make them an edge user.
PLACING_TOL = 1e-4
MIN_GROUP = 4  # a group of fewer users has no quartiles worth a limit: it gets none


def distances(X: np.ndarray, centers: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each row's distance to the centre it is labelled with, a chunk of rows at a time (a
    whole 10M-user difference matrix would be gigabytes)."""
    out = np.empty(len(X), dtype=np.float32)
    for start in range(0, len(X), CHUNK_ROWS):
        rows = slice(start, start + CHUNK_ROWS)
        out[rows] = np.linalg.norm(X[rows] - centers[labels[rows]], axis=1)
    return out


def far_limits(count: np.ndarray, q1: np.ndarray, q3: np.ndarray, mean: np.ndarray,
               rules: LevelRules) -> np.ndarray:
    """Each group's far limit from its users' distances to its centre: Tukey's fence,
    ``Q3 + far_iqr x IQR``, with the IQR at least ``far_floor`` x the mean distance over all
    groups (and at least :data:`PLACING_TOL`); infinite for a group of under 4 users.

    Without the floor a persona of identical users has an IQR of 0 and a limit at its own
    members, which a saved model then places outside it.
    """
    count = np.asarray(count, dtype=float)
    pooled = float(np.dot(count, np.nan_to_num(mean)) / count.sum()) if count.sum() else 0.0
    floor = max(rules.far_floor * pooled, PLACING_TOL)
    iqr = np.maximum(np.asarray(q3, dtype=float) - np.asarray(q1, dtype=float), floor)
    return np.where(count >= MIN_GROUP, np.asarray(q3, dtype=float) + rules.far_iqr * iqr,
                    np.inf)


def far_cap(n_users: int, rules: LevelRules) -> int:
    """The most users the far rule may make edge users."""
    return int(rules.max_far_share * n_users)


def widened(limits: np.ndarray, near_max: np.ndarray) -> np.ndarray:
    """The limits after the cap: out to the farthest user each group kept in, so a saved
    model flags exactly the capped training users (``near_max``: NaN for a group with none)."""
    near = np.asarray(near_max, dtype=float)
    moved = np.maximum(near * (1 + 1e-5), near + PLACING_TOL)
    return np.where(np.isnan(near), limits, np.fmax(limits, moved))


def far_users(dist: np.ndarray, labels: np.ndarray, k: int,
              rules: LevelRules) -> tuple[np.ndarray, np.ndarray]:
    """Users far out in their own group (beyond its :func:`far_limits`), the farthest
    :func:`far_cap` at most; and each group's limit."""
    count = np.bincount(labels, minlength=k)
    q1 = np.zeros(k)
    q3 = np.zeros(k)
    mean = np.zeros(k)
    for group in np.flatnonzero(count):
        own = dist[labels == group]
        q1[group], q3[group] = np.quantile(own, [0.25, 0.75])
        mean[group] = float(own.mean(dtype=np.float64))
    limits = far_limits(count, q1, q3, mean, rules)
    ratio = dist / limits[labels]
    far = ratio > 1.0
    cap = far_cap(len(dist), rules)
    if far.sum() > cap:
        keep = np.argsort(-ratio)[:cap]
        far = np.zeros(len(dist), dtype=bool)
        far[keep] = True
        near_max = np.full(k, np.nan)
        for g in range(k):
            near = (labels == g) & ~far
            if near.any():
                near_max[g] = float(dist[near].max())
        limits = widened(limits, near_max)
    return far, limits
