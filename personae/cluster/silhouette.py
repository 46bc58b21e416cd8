"""The silhouette of a labelling from distances computed once: scikit-learn's definition
(Rousseeuw 1987), summed per segment by one matrix product instead of its per-user loop.

A K search, the persona levels and a hierarchy score many labellings of the same sampled
users; each score is then one (users x users) by (users x segments) product. Pass float64
distances (``as_float64``): sums are float64, as scikit-learn's are, and another dtype is
converted at every call.
"""

from __future__ import annotations

import numpy as np

from personae.cluster._base import NOISE


def as_float64(distances: np.ndarray) -> np.ndarray:
    """Distances ready for many silhouettes (converted once)."""
    return np.asarray(distances, dtype=np.float64)


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
    # every row's sums (one product; an edge user's row is dropped after)
    sums = (as_float64(distances) @ members)[kept]
    sizes = members.sum(axis=0)
    own = (np.arange(n), codes)
    within = sums[own]
    sums[own] = np.inf
    nearest_other = (sums / sizes).min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        within = within / (sizes[codes] - 1)
        scores = (nearest_other - within) / np.maximum(within, nearest_other)
    return float(np.mean(np.nan_to_num(scores)))
