"""The silhouette of a labelling from distances computed once: scikit-learn's definition
(Rousseeuw 1987), summed per segment by a matrix product instead of its per-user loop.

A K search, the persona levels and a hierarchy score many labellings of the same sampled
users; each score is then a (users x users) by (users x segments) product.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import pairwise_distances

from personae.cluster._base import NOISE, threads_for

# Rows of the distances summed at a time, in float64 as scikit-learn sums them: a block of
# 256 x 5,000 is 10 MB, which the allocator reuses from one block to the next, where a
# float64 copy of the whole matrix would be 200 MB of fresh pages at every score.
BLOCK_ROWS = 256


def distances_between(points: np.ndarray) -> np.ndarray:
    """Euclidean distances between the rows of ``points`` (a sample of users), for many
    silhouettes. One BLAS thread: at 5,000 users a second one saves little and, when the
    machine is busy, spins for seconds."""
    with threads_for(len(points), user_api="blas"):
        return pairwise_distances(points)


def silhouette_from_distances(distances: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette of ``labels`` over the users of ``distances`` (square, zero
    diagonal), as ``sklearn.metrics.silhouette_score(distances, labels,
    metric="precomputed")`` gives it (a user alone in its segment scores 0), with edge
    users (``-1``) left out as if their rows and columns were not there. Raises ValueError
    unless 2 <= segments <= users - 1."""
    labels = np.asarray(labels)
    kept = np.flatnonzero(labels != NOISE)
    segments, codes = np.unique(labels[kept], return_inverse=True)
    n, k = len(kept), len(segments)
    if not 2 <= k <= n - 1:
        raise ValueError(f"silhouette needs 2 to {n - 1} segments (users - 1); got {k}")
    members = np.zeros((len(labels), k))  # edge users' rows stay 0: they count nowhere
    members[kept, codes] = 1.0
    sums = np.empty((len(labels), k))
    # a thin product is memory-bound: a second BLAS thread only waits (and spins for
    # seconds when the machine is busy)
    with threads_for(len(labels), user_api="blas"):
        for start in range(0, len(labels), BLOCK_ROWS):
            block = np.asarray(distances[start:start + BLOCK_ROWS], dtype=np.float64)
            sums[start:start + len(block)] = block @ members
    sums = sums[kept]  # an edge user's row is dropped (its column counted nowhere above)
    sizes = members.sum(axis=0)
    own = (np.arange(n), codes)
    within = sums[own]
    sums[own] = np.inf
    nearest_other = (sums / sizes).min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        within = within / (sizes[codes] - 1)
        scores = (nearest_other - within) / np.maximum(within, nearest_other)
    return float(np.mean(np.nan_to_num(scores)))
