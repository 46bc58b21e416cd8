"""k-prototypes: categories as categories."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from personae.cluster import algorithm_class, make_segmenter
from personae.errors import ConfigError

NUMERIC = ["kmeans", "minibatch", "gmm", "dbscan", "hdbscan", "hierarchical", "meanshift"]


def blobs(n: int = 600, k: int = 3, d: int = 4, seed: int = 0,
          std: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_blobs(n_samples=n, centers=k, n_features=d, cluster_std=std,
                      center_box=(-8, 8), random_state=seed)
    return X.astype(np.float32), y


def fit(name: str, X: np.ndarray, **params: object):  # type: ignore[no-untyped-def]
    if algorithm_class(name).uses_k:
        params.setdefault("k_range", (2, 5))
    return make_segmenter(name, **params).fit(X)


def test_kprototypes_treats_categories_as_categories() -> None:
    X, y = blobs(n=600, k=3, d=2, seed=8)
    onehot = np.eye(3, dtype=np.float32)[y]
    seg = fit("kprototypes", np.hstack([X, onehot]), categorical_blocks=[[2, 5]])
    assert adjusted_rand_score(y, seg.labels_) >= 0.95
    assert seg.category_modes_.shape == (3, 1)
    with pytest.raises(ConfigError, match="kprototypes needs categorical columns"):
        fit("kprototypes", X)
