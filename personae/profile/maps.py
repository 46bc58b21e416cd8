"""Users on a plane: 2-D coordinates of a sample of users for the report's map."""

from __future__ import annotations

import logging
import time
import warnings
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

MAP_SAMPLE = 5000
TSNE_PERPLEXITY = 30.0  # scikit-learn's default; fewer users than 4x this get a third of them


def umap_class() -> Any:
    """umap-learn's UMAP class. Its package warns on import when TensorFlow (only its
    parametric variant needs it) is missing: that warning is about a part personae never
    uses, so it is silenced here, for this import only."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*parametric_umap.*")
        warnings.filterwarnings("ignore", message=".*ParametricUMAP.*", category=ImportWarning)
        from umap import UMAP  # type: ignore[import-not-found]
    return UMAP


def tsne_library() -> str:
    """Whose t-SNE draws the map: openTSNE when installed (the [umap] extra; 2-7x faster than
    scikit-learn's at equal trustworthiness, benchmarks/bench_tsne.py), else scikit-learn."""
    import importlib.util

    return "openTSNE" if importlib.util.find_spec("openTSNE") else "scikit-learn"


def _tsne(X: np.ndarray, perplexity: float, random_state: int) -> np.ndarray:
    """The same t-SNE either way: 2-D, PCA start, learning rate auto, seeded, one thread."""
    if tsne_library() == "openTSNE":
        from openTSNE import TSNE as OpenTSNE

        return np.asarray(OpenTSNE(n_components=2, perplexity=perplexity, initialization="pca",
                                   learning_rate="auto", random_state=random_state, n_jobs=1,
                                   verbose=False).fit(X))
    from sklearn.manifold import TSNE

    return np.asarray(TSNE(n_components=2, perplexity=perplexity, init="pca",
                           learning_rate="auto", random_state=random_state,
                           n_jobs=1).fit_transform(X))


def project(X: np.ndarray, method: str, random_state: int = 0) -> tuple[np.ndarray, str, float]:
    """2-D coordinates for the map: UMAP when asked and installed, t-SNE when asked, PCA
    otherwise."""
    started = time.perf_counter()
    if method == "tsne" and len(X) > 2:
        log.info("t-SNE of %d users (%s)", len(X), tsne_library())
        perplexity = min(TSNE_PERPLEXITY, (len(X) - 1) / 3)
        return _tsne(X, perplexity, random_state), "t-SNE", time.perf_counter() - started
    if method == "umap":
        try:
            UMAP = umap_class()
        except ImportError:
            log.warning("umap-learn is not installed; the map uses PCA")
        else:
            log.info("UMAP of %d users (first use compiles numba code, ~40 s)", len(X))
            reducer = UMAP(n_components=2, n_neighbors=15, min_dist=0.1,
                                random_state=random_state, n_jobs=1)
            points = np.asarray(reducer.fit_transform(X))
            return points, "UMAP", time.perf_counter() - started
    from sklearn.decomposition import PCA

    n_components = min(2, X.shape[1])
    points = PCA(n_components=n_components, random_state=random_state).fit_transform(X)
    if points.shape[1] == 1:
        points = np.column_stack([points[:, 0], np.zeros(len(points))])
    return points, "PCA", time.perf_counter() - started
