from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_blobs
from sklearn.metrics import pairwise_distances, silhouette_score

from personae.cluster.silhouette import silhouette_from_distances


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(4, 300), k=st.integers(2, 12),
       edge_share=st.sampled_from([0.0, 0.1, 0.5]))
def test_scikit_learns_silhouette_edge_users_left_out(seed: int, n: int, k: int,
                                                      edge_share: float) -> None:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)).astype(np.float32)
    labels = rng.integers(0, k, size=n)
    labels[rng.random(n) < edge_share] = -1
    kept = labels != -1
    found = len(np.unique(labels[kept]))
    distances = pairwise_distances(X)
    if not 2 <= found <= kept.sum() - 1:
        with pytest.raises(ValueError, match="silhouette needs 2 to"):
            silhouette_from_distances(distances, labels)
        return
    expected = silhouette_score(distances[np.ix_(kept, kept)], labels[kept],
                                metric="precomputed")
    assert silhouette_from_distances(distances, labels) == pytest.approx(expected, abs=1e-6)


def test_separated_groups_score_near_one_and_a_random_split_near_zero() -> None:
    X, truth = make_blobs(n_samples=3000, centers=4, cluster_std=0.3, center_box=(-20, 20),
                          random_state=0)
    distances = pairwise_distances(X)
    assert silhouette_from_distances(distances, truth) > 0.9
    shuffled = np.random.default_rng(0).permutation(truth)
    assert abs(silhouette_from_distances(distances, shuffled)) < 0.05
