"""Hierarchical clustering and the multi-level taxonomy read from its dendrogram.

The tree (Ward by default) is built with scipy on a sample of users: agglomeration is
O(n^2) in memory (Ward used 7 GiB at 30k users). Three cuts of the same tree give nested
labels, broad -> category -> specific (``level_1`` ⊇ ``level_2`` ⊇ ``level_3``); the
segment is ``level_2``. Every user gets the levels of the nearest sample user.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy.cluster.hierarchy import dendrogram, fcluster, linkage
from scipy.spatial.distance import pdist, squareform

from personae.cluster._base import (
    K_PARAMS,
    NearestSampleMixin,
    Param,
    Segmenter,
    relabel,
    size_order,
)
from personae.cluster.silhouette import silhouette_from_distances
from personae.errors import ConfigError

LINKAGES = ("ward", "average", "complete", "single")
DENDROGRAM_LEAVES = 30


class HierarchicalSegmenter(NearestSampleMixin, Segmenter):
    """Agglomerative tree on a sample; K by silhouette over cuts; three nested levels."""

    name: ClassVar[str] = "hierarchical"
    summary: ClassVar[str] = "a tree of segments: broad -> category -> specific"
    uses_k: ClassVar[bool] = True
    default_sample: ClassVar[int | None] = 5_000
    PARAMS: ClassVar[dict[str, Param]] = {
        **K_PARAMS,
        "linkage": Param(str, "ward", choices=LINKAGES, help="how groups are merged"),
    }

    def _fit(self, X: np.ndarray) -> np.ndarray:
        if self.n_clusters is not None and self.n_clusters > len(X):
            raise ConfigError(f"n_clusters={self.n_clusters} is more than the {len(X)} users "
                              "to cluster")
        X64 = X.astype(np.float64)
        self.linkage_ = linkage(X64, method=self.linkage)
        distances = squareform(pdist(X64)).astype(np.float32)
        low, high = self.k_range
        high = min(high, len(X) - 1)
        scores: dict[int, float] = {}

        def score(k: int) -> float:
            if k not in scores:
                cut = fcluster(self.linkage_, k, criterion="maxclust")
                scores[k] = (silhouette_from_distances(distances, cut)
                             if 1 < len(np.unique(cut)) < len(X) else -1.0)
            return scores[k]

        if self.n_clusters is not None:
            k = int(self.n_clusters)
        else:
            k = max(range(low, high + 1), key=lambda c: (score(c), -c))
            self.why_.append(f"K={k}: the cut of the {self.linkage} tree with the highest "
                             f"silhouette among {low}..{high} on {len(X):,} users")
        broad = range(2, k)
        k1 = max(broad, key=lambda c: (score(c), -c)) if len(broad) else k
        fine = range(k + 1, min(2 * k, len(X) - 1) + 1)
        k3 = max(fine, key=lambda c: (score(c), -c)) if len(fine) else k
        levels = np.column_stack([
            fcluster(self.linkage_, c, criterion="maxclust") - 1 for c in (k1, k, k3)])
        for j in range(3):
            levels[:, j] = relabel(levels[:, j], size_order(levels[:, j]))
        self.points_ = X
        self.level_labels_ = levels.astype(np.int32)
        self.point_labels_ = self.level_labels_[:, 1]
        self.n_segments_ = int(levels[:, 1].max()) + 1
        self.level_sizes_ = [int(levels[:, j].max()) + 1 for j in range(3)]
        self.resolved_params_.update(n_clusters=self.n_segments_,
                                     levels=self.level_sizes_)
        self.why_.append(f"taxonomy levels of {k1}, {k} and {k3} segments, all cuts of one "
                         "tree")
        return self.point_labels_

    def predict_levels(self, X: np.ndarray) -> np.ndarray:
        """``(n, 3)`` nested labels level_1, level_2, level_3 for each user."""
        self._check_fitted("points_")
        index, _ = self._nearest(X)
        return self.level_labels_[index]

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.predict_levels(X)[:, 1].astype(np.int32)

    def dendrogram_data(self, leaves: int = DENDROGRAM_LEAVES) -> dict[str, Any]:
        """The top of the tree, ready to plot: scipy's dendrogram coordinates."""
        self._check_fitted("linkage_")
        p = int(min(leaves, len(self.linkage_) + 1))
        tree = dendrogram(self.linkage_, truncate_mode="lastp", p=p, no_plot=True)
        return {"linkage": self.linkage, "sample_users": int(len(self.linkage_) + 1),
                "leaves_shown": p, "icoord": tree["icoord"], "dcoord": tree["dcoord"],
                "leaf_labels": tree["ivl"],
                "how": f"scipy {self.linkage} linkage on a sample of "
                       f"{len(self.linkage_) + 1:,} users; the last {p} merges are shown"}

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return ({**self._state_params(), "level_sizes": self.level_sizes_},
                {"points": self.points_, "level_labels": self.level_labels_,
                 "linkage": self.linkage_})

    @classmethod
    def from_state(cls, params: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
        self = cls._from_params(params)
        self.points_ = np.asarray(arrays["points"], dtype=np.float32)
        self.level_labels_ = np.asarray(arrays["level_labels"], dtype=np.int32)
        self.point_labels_ = self.level_labels_[:, 1]
        self.linkage_ = np.asarray(arrays["linkage"], dtype=np.float64)
        self.level_sizes_ = [int(v) for v in params["level_sizes"]]
        return self


def taxonomy(levels: np.ndarray, weights: np.ndarray | None = None) -> list[dict[str, Any]]:
    """Tree nodes (id, level, segment, parent, size, share) from all users' nested labels;
    ``weights``: users per row when each row of ``levels`` stands for many (counts of each
    combination of labels, as the Spark engine aggregates them)."""
    w = np.ones(len(levels), dtype=np.int64) if weights is None else \
        np.asarray(weights, dtype=np.int64)
    n = int(w.sum())
    nodes: list[dict[str, Any]] = []
    for j in range(levels.shape[1]):
        values, index = np.unique(levels[:, j], return_inverse=True)
        counts = np.bincount(index, weights=w, minlength=len(values)).astype(np.int64)
        for position, (value, count) in enumerate(zip(values.tolist(), counts.tolist(),
                                                      strict=True)):
            parent = None
            if j > 0:
                rows = index == position
                parents = levels[rows, j - 1]
                parent = f"L{j}.{int(np.bincount(parents, weights=w[rows]).argmax())}"
            nodes.append({"id": f"L{j + 1}.{value}", "level": j + 1, "segment": int(value),
                          "parent": parent, "size": int(count), "share": count / n})
    return nodes
