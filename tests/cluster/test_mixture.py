"""Gaussian mixtures: soft memberships and the BIC search."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from generated import blobs, fit
from personae.cluster.mixture import memberships_summary

NUMERIC = ["kmeans", "minibatch", "gmm", "dbscan", "hdbscan", "hierarchical", "meanshift"]


def test_gmm_memberships_and_mixed_users() -> None:
    X, _ = blobs(n=800, k=2, seed=6)
    seg = fit("gmm", X)
    proba = seg.predict_proba(X)
    assert proba.shape == (800, 2) and np.allclose(proba.sum(axis=1), 1)
    middle = seg.means_.mean(axis=0, keepdims=True).astype(np.float32)
    summary = memberships_summary(seg.predict_proba(np.vstack([middle, X[:1]])), 0.6)
    assert summary["mixed"].tolist() == [True, False]
    assert set(summary) == {"probability", "second_segment", "second_probability", "mixed"}
    assert seg.resolved_params_["covariance_type"] in ("full", "diag", "tied", "spherical")


def test_gmm_finds_three_uneven_groups_not_a_split_of_the_big_one() -> None:
    # One EM start per mixture in the BIC search put two components in the 1,600-user
    # group at K=3, so K=4 (that split plus the two small groups) scored better.
    X, y = make_blobs(n_samples=[1600, 300, 100], n_features=6, cluster_std=1.0,
                      center_box=(-10, 10), random_state=2)
    X = ((X - X.mean(axis=0)) / X.std(axis=0)).astype(np.float32)
    seg = fit("gmm", X, k_range=(2, 6))
    assert seg.n_segments_ == 3
    assert adjusted_rand_score(y, seg.labels_) >= 0.99


def test_gmm_fits_float32_users_with_rare_flags() -> None:
    # A rare 0/1 flag, once standardised, is ~10 for the few users who have it; a segment of
    # only those users has zero variance there, which float32 EM computes as negative.
    rng = np.random.default_rng(0)
    y = rng.choice(4, 2000, p=[0.6, 0.3, 0.09, 0.01])
    X = rng.normal(0, 1, (2000, 3)) + np.array([[0, 0, 0], [6, 0, 0], [0, 6, 0], [0, 0, 6]])[y]
    flags = np.column_stack([y == 3, y == 2, (y == 3) & (rng.random(2000) < 0.5)])
    X = np.column_stack([X, flags])
    X = ((X - X.mean(axis=0)) / X.std(axis=0)).astype(np.float32)
    seg = fit("gmm", X, k_range=(2, 6))
    assert adjusted_rand_score(y, seg.labels_) >= 0.95
    assert np.array_equal(seg.predict(X), seg.labels_)
