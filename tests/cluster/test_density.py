"""DBSCAN, HDBSCAN and mean shift: edge users and modes."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from generated import blobs, fit

NUMERIC = ["kmeans", "minibatch", "gmm", "dbscan", "hdbscan", "hierarchical", "meanshift"]


@pytest.mark.parametrize("name", ["dbscan", "hdbscan"])
def test_far_away_users_are_edge_users(name: str) -> None:
    X, _ = blobs(n=900, seed=5)
    far = np.array([[60, 60, 60, 60], [-60, 60, -60, 60]], dtype=np.float32)
    seg = fit(name, np.vstack([X, far]))
    assert (seg.labels_[-2:] == -1).all()
    assert (seg.labels_[:-2] >= 0).mean() > 0.9
    assert (seg.predict(far * 2) == -1).all()


def test_dbscan_keeps_a_handful_of_packed_users_as_edge_users() -> None:
    X, y = blobs(n=900, seed=5)
    huddle = np.full((8, 4), 30.0, dtype=np.float32) + np.float32(0.01) * np.arange(8)[:, None]
    both = np.vstack([X, huddle])
    seg = fit("dbscan", both)
    assert seg.n_segments_ == 3 and (seg.labels_[-8:] == -1).all()
    assert adjusted_rand_score(y, seg.labels_[:-8]) >= 0.95
    assert any("8 users" in line and "edge users" in line for line in seg.why_)
    allowed = fit("dbscan", both, min_share=0.0)
    assert allowed.n_segments_ == 4 and len(set(allowed.labels_[-8:])) == 1
    assert allowed.labels_[-1] >= 0


@pytest.mark.parametrize(("seed", "d", "quantile"), [(0, 2, 0.1), (1, 5, 0.1), (2, 12, 0.2),
                                                      (3, 3, 0.05)])
def test_mean_shift_modes_are_scikit_learns(seed: int, d: int, quantile: float) -> None:
    from sklearn.cluster import MeanShift, estimate_bandwidth

    from personae.cluster.density import mean_shift_modes

    X, _ = make_blobs(n_samples=700, centers=5, n_features=d, cluster_std=1.5,
                      random_state=seed)
    bandwidth = estimate_bandwidth(X, quantile=quantile, random_state=0)
    reference = MeanShift(bandwidth=bandwidth, bin_seeding=True).fit(X).cluster_centers_
    assert np.array_equal(mean_shift_modes(X, bandwidth), reference)
