"""What every level learns with: seeded K-means runs, seeded samples, the sampled
silhouette."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from threadpoolctl import threadpool_limits

from personae.cluster._base import NOISE

# users (the fit_rows sample fits included): OpenMP's threads cost more than they give
# there (spin-waits); on a busy machine they made a 1,500-user fit 20x slower
ONE_THREAD_BELOW = 20_000


def kmeans(X: np.ndarray, k: int, seed: int, n_init: int,
           init: np.ndarray | None = None) -> KMeans:
    # the run on everyone centres X in place and back (copy_x=False): a copy of 10M users
    # would be 600 MB more at the run's peak
    model = KMeans(n_clusters=k, n_init=n_init, random_state=seed) if init is None else \
        KMeans(n_clusters=k, init=init, n_init=1, random_state=seed, copy_x=False)
    with threadpool_limits(limits=1 if len(X) <= ONE_THREAD_BELOW else None,
                           user_api="openmp"):
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
