"""Quality indices, bootstrap stability and the fit/predict consistency check."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from generated import blobs, rings, users
from personae import SegmentModel, segment
from personae.cluster import (
    balance,
    bootstrap_stability,
    choose_algorithm,
    dbcv,
    gaussian_bic,
    hollowness,
    make_segmenter,
    quality,
)


def test_quality_prefers_the_true_partition() -> None:
    X, y = blobs()
    wrong = np.random.default_rng(0).integers(0, 3, len(y))
    good, bad = quality(X, y), quality(X, wrong)
    assert good["silhouette"] > 0.7 > bad["silhouette"]
    assert good["davies_bouldin"] < bad["davies_bouldin"]
    assert good["dbcv"] > 0.3 > bad["dbcv"]
    assert good["quality_sample_users"] == 600 and good["edge_share"] == 0.0


def test_dbcv_counts_edge_users_against_the_score() -> None:
    X, y = blobs()
    labels = y.copy()
    labels[::3] = -1
    assert dbcv(X, labels) < dbcv(X, y)
    assert np.isnan(dbcv(X, np.zeros(len(X), dtype=int)))


def test_balance() -> None:
    assert balance(np.array([0, 0, 1, 1]))["size_entropy"] == pytest.approx(1.0)
    uneven = balance(np.array([0] * 9 + [1, -1]))
    assert uneven["size_entropy"] < 0.6 and uneven["smallest_share"] == pytest.approx(1 / 11)


def test_stable_segments_are_stable_and_arbitrary_ones_are_flagged() -> None:
    X, _ = blobs()
    seg = make_segmenter("kmeans", n_clusters=3).fit(X)
    result = bootstrap_stability(lambda Xs: make_segmenter("kmeans", n_clusters=3).fit(Xs), X,
                                 seg.labels_, runs=3)
    assert result.ari_mean > 0.95 and result.unstable_segments == []
    assert set(result.per_segment_jaccard) == {0, 1, 2}
    noise = np.random.default_rng(1).uniform(size=(400, 6)).astype(np.float32)
    seg = make_segmenter("kmeans", n_clusters=8, n_init=1).fit(noise)
    shaky = bootstrap_stability(
        lambda Xs: make_segmenter("kmeans", n_clusters=8, n_init=1, random_state=5).fit(Xs),
        noise, seg.labels_, runs=3)
    assert shaky.ari_mean < result.ari_mean and shaky.unstable_segments
    assert json.dumps(shaky.as_dict())


def test_a_segment_missing_from_the_stability_sample_is_not_called_stable() -> None:
    # a segment of a few users among many may have nobody in the stability sample
    X, _ = blobs()
    seg = make_segmenter("kmeans", n_clusters=3).fit(X)
    result = bootstrap_stability(lambda Xs: make_segmenter("kmeans", n_clusters=3).fit(Xs), X,
                                 seg.labels_, runs=2, segments=range(4))
    assert result.unstable_segments == [3]
    info = json.loads(json.dumps(result.as_dict(), allow_nan=False))
    assert info["per_segment_jaccard"]["3"] is None and "not measured" in info["how"]


def test_hollowness_tells_a_ring_from_a_blob() -> None:
    X, y = rings()
    assert hollowness(X, y) > 3, "the ring's centre is far from every ring member"
    blob, labels = blobs(k=3)
    assert hollowness(blob, labels) < 1.2


def test_hollowness_of_repeated_users_is_that_of_the_users_once() -> None:
    # each user 25 times: the copies exactly equal, or apart by float noise (their spacing
    # of ~1e-6 once read as a centre 158,298 member spacings away)
    blob, labels = blobs(k=3)
    once = hollowness(blob, labels)
    repeated, repeated_labels = np.repeat(blob, 25, axis=0), np.repeat(labels, 25)
    noisy = repeated + np.random.default_rng(0).normal(size=repeated.shape) * 1e-6
    assert hollowness(repeated, repeated_labels) == pytest.approx(once, rel=1e-6)
    assert hollowness(noisy, repeated_labels) == pytest.approx(once, rel=0.1)
    ring, ring_labels = rings()
    assert hollowness(np.repeat(ring, 3, axis=0), np.repeat(ring_labels, 3)) > 3


def test_gaussian_bic_reads_overlapping_groups_as_a_mixture() -> None:
    # three Gaussians that overlap: a hard-assignment likelihood favours merging two of
    # them, and so does the K-means vote (K=2); the mixture BIC keeps all three
    X, y = make_blobs(n_samples=2000, centers=3, n_features=5, cluster_std=2.2,
                      center_box=(-5, 5), random_state=4)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    for a, b in ((0, 1), (0, 2), (1, 2)):
        assert gaussian_bic(X, y) < gaussian_bic(X, np.where(y == b, a, y))
    choice = choose_algorithm(X, candidates=("kmeans", "gmm"), k_range=(2, 6))
    assert choice.table.set_index("algorithm").loc["kmeans", "n_segments"] == 2
    assert choice.name == "gmm" and choice.params == {"n_clusters": 3}


def test_model_labels_agree_with_predict_and_survive_save(tmp_path: Path) -> None:
    frame, y = users()
    far = frame.iloc[:2].copy()
    far[["m0", "m1", "m2", "m3"]] = 80.0
    result = segment(frame, algorithm="hdbscan", random_state=1)
    model = result.model
    assert adjusted_rand_score(y, model.labels_) > 0.95
    assert result.info["consistency"]["fit_predict_agreement"] == 1.0
    assert result.stability is not None and result.stability["ari_mean"] > 0.9
    model.save(tmp_path / "m")
    loaded = SegmentModel.load(tmp_path / "m")
    assert np.array_equal(loaded.predict(frame), model.labels_)
    assert loaded.is_novel(far).all() and not loaded.is_novel(frame).mean() > 0.01
    assert (loaded.predict(far) == -1).all()


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 60), levels=st.integers(1, 4))
def test_dbcv_spanning_tree_is_scipys_tree_of_every_edge(seed: int, n: int,
                                                         levels: int) -> None:
    # Weights of a few values: ties everywhere, where the tree depends on how they are
    # broken (and zeros: no edge, as for identical users). Sorting half the edges must
    # break them as the sort of every edge did.
    from scipy.sparse.csgraph import minimum_spanning_tree

    from personae.cluster.validate import spanning_tree

    rng = np.random.default_rng(seed)
    upper = np.triu(rng.integers(0, levels + 1, size=(n, n)).astype(float), k=1)
    weights = upper + upper.T + np.diag(rng.random(n))
    tree, every_edge = spanning_tree(weights), minimum_spanning_tree(weights).tocoo()
    assert (tree.row.tolist(), tree.col.tolist(), tree.data.tolist()) == \
        (every_edge.row.tolist(), every_edge.col.tolist(), every_edge.data.tolist())
