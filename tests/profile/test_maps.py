from __future__ import annotations

import numpy as np
import pytest

from personae.profile.maps import project


def test_pca_map_keeps_two_planted_groups_apart() -> None:
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 0.3, (100, 6)), rng.normal(4, 0.3, (100, 6))])
    points, method, seconds = project(X.astype(np.float32), "pca", random_state=0)
    assert method == "PCA" and points.shape == (200, 2) and seconds >= 0
    first, second = points[:100, 0], points[100:, 0]
    assert min(first.max(), second.max()) < max(first.min(), second.min())


@pytest.mark.parametrize("columns", [1, 2])
def test_a_map_of_few_features_still_has_two_axes(columns: int) -> None:
    X = np.random.default_rng(1).normal(size=(50, columns))
    points, _, _ = project(X, "pca")
    assert points.shape == (50, 2)
