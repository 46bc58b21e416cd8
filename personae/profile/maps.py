"""Users on a plane: 2-D coordinates of a sample of users for the report's map."""

from __future__ import annotations

import logging
import time

import numpy as np

log = logging.getLogger(__name__)

MAP_SAMPLE = 5000


def project(X: np.ndarray, method: str, random_state: int = 0) -> tuple[np.ndarray, str, float]:
    """2-D coordinates for the map; UMAP when asked and installed, PCA otherwise."""
    started = time.perf_counter()
    if method == "umap":
        try:
            import umap  # type: ignore[import-not-found]
        except ImportError:
            log.warning("umap-learn is not installed; the map uses PCA")
        else:
            log.info("UMAP of %d users (first use compiles numba code, ~40 s)", len(X))
            reducer = umap.UMAP(n_components=2, n_neighbors=15, min_dist=0.1,
                                random_state=random_state, n_jobs=1)
            points = np.asarray(reducer.fit_transform(X))
            return points, "UMAP", time.perf_counter() - started
    from sklearn.decomposition import PCA

    n_components = min(2, X.shape[1])
    points = PCA(n_components=n_components, random_state=random_state).fit_transform(X)
    if points.shape[1] == 1:
        points = np.column_stack([points[:, 0], np.zeros(len(points))])
    return points, "PCA", time.perf_counter() - started
