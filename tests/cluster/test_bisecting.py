"""Bisecting K-means: pyspark.ml's split rule (level by level, larger clusters first, an
unsplit cluster stays a leaf) and its tree walk, on data whose tree is known."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import adjusted_rand_score

from personae.cluster import make_segmenter
from personae.cluster.bisecting import LEAF, tree_from_spark, walk


def _groups(centres: list[float], sizes: list[int], seed: int = 0) -> tuple[np.ndarray,
                                                                           np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(c, 0.5, size=(n, 2)) for c, n in zip(centres, sizes,
                                                                        strict=True)])
    truth = np.repeat(np.arange(len(centres)), sizes)
    return X.astype(np.float32), truth


def test_the_larger_half_is_split_first_and_the_other_stays_whole() -> None:
    # two far pairs of groups: the root splits the pairs apart; for K=3 only the larger
    # pair (300 users against 200) is cut again
    X, truth = _groups([0, 10, 100, 110], [150, 150, 100, 100])
    seg = make_segmenter("bisecting", n_clusters=3, random_state=0).fit(X)
    assert adjusted_rand_score(np.minimum(truth, 2), seg.labels_) == 1.0
    assert np.bincount(seg.labels_).tolist() == [200, 150, 150]  # numbered by size
    assert (seg.tree_children_[:, 0] != LEAF).sum() == 2  # two splits: a binary tree


def test_four_leaves_take_two_levels_of_splits() -> None:
    X, truth = _groups([0, 10, 100, 110], [150, 150, 100, 100], seed=1)
    seg = make_segmenter("bisecting", n_clusters=4, random_state=0).fit(X)
    assert adjusted_rand_score(truth, seg.labels_) == 1.0
    assert np.array_equal(seg.predict(X), seg.labels_)


def test_a_cluster_of_one_point_is_not_split() -> None:
    X = np.array([[0, 0]] * 5 + [[9, 9]] * 5, dtype=np.float32)
    seg = make_segmenter("bisecting", n_clusters=4, random_state=0).fit(X)
    assert seg.n_segments_ == 2 and any("leaves, not K=4" in line for line in seg.why_)


# Spark's saved form of the tree root -1 -> (-2 -> (0, 1), 2): leaves keep Spark's numbers
SPARK_NODES = [
    {"index": -1, "size": 30, "center": {"type": 1, "values": [5.0, 0.0]}, "children": [-2, 2]},
    {"index": -2, "size": 20, "center": {"type": 1, "values": [0.0, 0.0]}, "children": [0, 1]},
    {"index": 0, "size": 12, "center": {"type": 1, "values": [-1.0, 0.0]}, "children": []},
    {"index": 1, "size": 8, "center": {"type": 0, "size": 2, "indices": [0],
                                       "values": [1.0]}, "children": []},
    {"index": 2, "size": 10, "center": {"type": 1, "values": [10.0, 0.0]}, "children": []},
]


def test_a_spark_tree_is_read_root_first_with_its_leaf_numbers() -> None:
    centers, children, leaf, sizes = tree_from_spark(list(reversed(SPARK_NODES)))
    assert centers[0].tolist() == [5.0, 0.0] and children[0].tolist() == [1, 4]
    assert leaf.tolist() == [LEAF, LEAF, 0, 1, 2] and sizes.tolist() == [12, 8, 10]
    X = np.array([[-3.0, 0.0], [0.9, 0.0], [5.2, 0.0], [9.0, 5.0]])
    # 5.2 is nearer the right split (10) than the left (0), so the walk ends at leaf 2,
    # though leaf 1 (at 1) is the nearer leaf: Spark's predict, not the nearest centre
    assert walk(centers, children, leaf, X).tolist() == [0, 1, 2, 2]


def test_a_tie_goes_to_the_first_child() -> None:
    centers, children, leaf, _ = tree_from_spark(SPARK_NODES)
    assert walk(centers, children, leaf, np.array([[0.0, 0.0]])).tolist() == [0]


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=2, max_value=6), st.integers(min_value=0, max_value=10_000))
def test_every_user_lands_on_a_leaf_and_the_state_round_trips(k: int, seed: int) -> None:
    X = np.random.default_rng(seed).normal(size=(120, 3)).astype(np.float32)
    seg = make_segmenter("bisecting", n_clusters=k, random_state=seed).fit(X)
    labels = seg.predict(X)
    assert labels.min() >= 0 and labels.max() < seg.n_segments_ <= k
    params, arrays = seg.to_state()
    again = type(seg).from_state(params, arrays)
    assert np.array_equal(again.predict(X), labels)
    assert np.allclose(again.distance(X), seg.distance(X))
