"""Hierarchical clustering: nested levels and the tree."""

from __future__ import annotations

import numpy as np

from generated import blobs, fit
from personae.cluster.hierarchy import taxonomy

NUMERIC = ["kmeans", "minibatch", "gmm", "dbscan", "hdbscan", "hierarchical", "meanshift"]


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
