"""The silhouette of a labelling from distances computed once: scikit-learn's definition
(Rousseeuw 1987), summed per segment by one matrix product instead of its per-user loop.

A K search, the persona levels and a hierarchy score many labellings of the same sampled
users; each score is then a (users x users) by (users x segments) product.
"""

from __future__ import annotations

import numpy as np

from personae.cluster._base import NOISE

# rows of the distance matrix turned to float64 at a time: the sums stay float64, as
# scikit-learn's are, without a float64 copy of the whole matrix
CHUNK_ROWS = 1_024


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
    sums = np.empty((n, k))
    for start in range(0, n, CHUNK_ROWS):
        rows = kept[start:start + CHUNK_ROWS]
        sums[start:start + len(rows)] = np.asarray(distances[rows], dtype=np.float64) @ members
    sizes = members.sum(axis=0)
    own = (np.arange(n), codes)
    within = sums[own]
    sums[own] = np.inf
    nearest_other = (sums / sizes).min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        within = within / (sizes[codes] - 1)
        scores = (nearest_other - within) / np.maximum(within, nearest_other)
    return float(np.mean(np.nan_to_num(scores)))
