"""k-prototypes: categories as categories."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from generated import blobs, fit
from personae.errors import ConfigError

NUMERIC = ["kmeans", "minibatch", "gmm", "dbscan", "hdbscan", "hierarchical", "meanshift"]


def test_kprototypes_treats_categories_as_categories() -> None:
    X, y = blobs(n=600, k=3, d=2, seed=8)
    onehot = np.eye(3, dtype=np.float32)[y]
    seg = fit("kprototypes", np.hstack([X, onehot]), categorical_blocks=[[2, 5]])
    assert adjusted_rand_score(y, seg.labels_) >= 0.95
    assert seg.category_modes_.shape == (3, 1)
    with pytest.raises(ConfigError, match="kprototypes needs categorical columns"):
        fit("kprototypes", X)
