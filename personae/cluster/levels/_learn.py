"""What every level learns with: seeded K-means runs, seeded samples, the sampled
silhouette."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans

from personae.cluster._base import NOISE, threads_for
from personae.cluster.silhouette import distances_between, silhouette_from_distances


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


class SilhouetteSample:
    """The rows ``idx`` of ``X`` a silhouette is measured on. The distances between them are
    computed once, at the first score (after any K-means that centres ``X`` in place), for
    every labelling scored there: each K tried, each broad cut."""

    def __init__(self, X: np.ndarray, idx: np.ndarray) -> None:
        self.X = X
        self.idx = idx
        self._distances: np.ndarray | None = None

    def prepare(self) -> None:
        """Compute the distances now (threads that score side by side then share them)."""
        if self._distances is None:
            self._distances = distances_between(self.X[self.idx])

    def score(self, labels: np.ndarray) -> float:
        """Silhouette of ``labels`` (one per row of ``X``) on the rows ``idx``, edge users
        (``-1``) left out; NaN when fewer than 2 groups or 3 users remain."""
        own = labels[self.idx]
        keep = own != NOISE
        if keep.sum() < 3 or len(np.unique(own[keep])) < 2:
            return float("nan")
        self.prepare()
        assert self._distances is not None
        return silhouette_from_distances(self._distances, own)
