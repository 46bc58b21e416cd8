"""What every level learns with: seeded K-means runs, seeded samples, the sampled
silhouette."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from personae.cluster._base import NOISE, threads_for


def kmeans(X: np.ndarray, k: int, seed: int, n_init: int,
           init: np.ndarray | None = None) -> KMeans:
    # the run on everyone centres X in place and back (copy_x=False): a copy of 10M users
    # would be 600 MB more at the run's peak
    model = KMeans(n_clusters=k, n_init=n_init, random_state=seed) if init is None else \
        KMeans(n_clusters=k, init=init, n_init=1, random_state=seed, copy_x=False)
    with threads_for(len(X), user_api="openmp"):
        return model.fit(X)


def sample(n: int, size: int, seed: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Sorted row numbers of a seeded sample of ``size`` (all rows when there are fewer)."""
    idx = np.flatnonzero(mask) if mask is not None else np.arange(n)
    if len(idx) <= size:
        return idx
    return np.sort(np.random.default_rng(seed).choice(idx, size, replace=False))


def silhouette(X: np.ndarray, labels: np.ndarray, idx: np.ndarray) -> float:
    """Silhouette of ``labels`` on the rows ``idx``, edge users (``-1``) left out; NaN when
    fewer than 2 groups or 3 users remain."""
    keep = idx[labels[idx] != NOISE]
    if len(keep) < 3 or len(np.unique(labels[keep])) < 2:
        return float("nan")
    return float(silhouette_score(X[keep], labels[keep]))
