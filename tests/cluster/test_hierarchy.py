"""Hierarchical clustering: nested levels and the tree."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import make_blobs

from personae.cluster import algorithm_class, make_segmenter
from personae.cluster.hierarchy import taxonomy

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


def test_hierarchy_levels_are_nested_and_the_tree_has_sizes() -> None:
    X, y = blobs(n=900, k=6, seed=7, std=0.5)
    seg = fit("hierarchical", X, k_range=(2, 8))
    levels = seg.predict_levels(X)
    assert np.array_equal(levels[:, 1], seg.labels_)
    for fine, coarse in ((2, 1), (1, 0)):
        pairs = {(a, b) for a, b in zip(levels[:, fine], levels[:, coarse], strict=True)}
        assert len(pairs) == len(np.unique(levels[:, fine])), "each node has one parent"
    assert len(np.unique(levels[:, 0])) <= len(np.unique(levels[:, 1])) \
        <= len(np.unique(levels[:, 2]))
    nodes = taxonomy(levels)
    assert sum(n["size"] for n in nodes if n["level"] == 1) == 900
    assert all(n["parent"] is not None for n in nodes if n["level"] > 1)
    tree = seg.dendrogram_data()
    assert len(tree["icoord"]) == len(tree["dcoord"]) and "sample" in tree["how"]
