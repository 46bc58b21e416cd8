"""Bisecting K-means: a binary tree of 2-means splits, the divisive hierarchy Spark fits.

The split rule is pyspark.ml's ``BisectingKMeans``, so the two engines grow the same kind
of tree: level by level, every cluster made by the last level's splits is cut in two with
2-means (scikit-learn, k-means++ starts); when that would make more than K leaves, the
larger clusters go first; a cluster left whole stays a leaf. A user is placed by walking
the tree from the root to the nearer child at every split (pyspark.ml's ``predict``), so a
tree fitted by Spark (:func:`tree_from_spark`) labels users as Spark does.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.cluster import KMeans

from personae.cluster._base import K_PARAMS, Param, order_by_size
from personae.cluster.kmeans import _CentroidSegmenter
from personae.errors import ConfigError, NotFittedError

LEAF = -1


class BisectingSegmenter(_CentroidSegmenter):
    """Divisive K-means; K by the vote; the tree over everyone on Spark (BisectingKMeans)."""

    name: ClassVar[str] = "bisecting"
    summary: ClassVar[str] = "divisive K-means: a binary tree of splits (Spark fits it at scale)"
    PARAMS: ClassVar[dict[str, Param]] = {
        **K_PARAMS,
        "n_init": Param(int, 4, low=1, help="k-means++ starts per split"),
        "max_iter": Param(int, 100, low=1, help="2-means iterations per split"),
    }
    tree_centers_: np.ndarray   # (nodes, d): every node's mean, the root first
    tree_children_: np.ndarray  # (nodes, 2): the two children of a split, LEAF at a leaf
    tree_leaf_: np.ndarray      # (nodes,): a leaf's segment, LEAF at a split

    def _fit(self, X: np.ndarray) -> np.ndarray:
        k, _ = self._auto_k(X)
        X64 = X.astype(np.float64)
        centers, children, leaf = bisect(X64, k, n_init=self.n_init, max_iter=self.max_iter,
                                         random_state=self.random_state)
        if int((leaf >= 0).sum()) < k:
            self.why_.append(f"{int((leaf >= 0).sum())} leaves, not K={k}: the other "
                             "clusters hold a single distinct point")
        self.set_tree(centers, children, leaf)
        labels = self.predict(X64)
        labels = self.renumber(np.bincount(labels, minlength=self.n_segments_))[labels]
        self.inertia_ = float(((X64 - self.cluster_centers_[labels]) ** 2).sum())
        return labels

    def set_tree(self, centers: np.ndarray, children: np.ndarray, leaf: np.ndarray) -> None:
        """Take a tree (node centres, children, leaf numbers; node 0 the root), fitted here
        or by Spark (:func:`tree_from_spark`)."""
        self.tree_centers_ = np.asarray(centers, dtype=np.float64)
        self.tree_children_ = np.asarray(children, dtype=np.int32)
        self.tree_leaf_ = np.asarray(leaf, dtype=np.int32)
        n_leaves = int((self.tree_leaf_ >= 0).sum())
        self.n_segments_ = n_leaves
        self.resolved_params_["n_clusters"] = n_leaves
        self.cluster_centers_ = np.zeros((n_leaves, self.tree_centers_.shape[1]),
                                         dtype=np.float32)
        leaves = np.flatnonzero(self.tree_leaf_ >= 0)
        self.cluster_centers_[self.tree_leaf_[leaves]] = self.tree_centers_[leaves]

    def renumber(self, sizes: np.ndarray) -> np.ndarray:
        """Number the leaves by ``sizes`` (users per leaf, by its current number), largest
        first; ``mapping[old] = new``."""
        mapping = order_by_size(sizes)
        inner = self.tree_leaf_ < 0
        self.tree_leaf_ = np.where(inner, LEAF, mapping[np.maximum(self.tree_leaf_, 0)]
                                   ).astype(np.int32)
        centers = np.zeros_like(self.cluster_centers_)
        centers[mapping] = self.cluster_centers_
        self.cluster_centers_ = centers
        return mapping

    def predict(self, X: np.ndarray) -> np.ndarray:
        if not hasattr(self, "tree_centers_"):
            raise NotFittedError(f"{type(self).__name__}.predict called before fit")
        return walk(self.tree_centers_, self.tree_children_, self.tree_leaf_, X)

    def distance(self, X: np.ndarray) -> np.ndarray:
        """Distance to the centre of the leaf the walk reaches (not the nearest leaf)."""
        X = np.asarray(X, dtype=np.float64)
        centers = self.cluster_centers_.astype(np.float64)[self.predict(X)]
        return np.sqrt(((X - centers) ** 2).sum(axis=1))

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        params, arrays = super().to_state()
        return params, {**arrays, "tree_centers": self.tree_centers_,
                        "tree_children": self.tree_children_, "tree_leaf": self.tree_leaf_}

    @classmethod
    def from_state(cls, params: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
        self = super().from_state(params, arrays)
        self.tree_centers_ = np.asarray(arrays["tree_centers"], dtype=np.float64)
        self.tree_children_ = np.asarray(arrays["tree_children"], dtype=np.int32)
        self.tree_leaf_ = np.asarray(arrays["tree_leaf"], dtype=np.int32)
        self.n_segments_ = int((self.tree_leaf_ >= 0).sum())
        return self


def walk(centers: np.ndarray, children: np.ndarray, leaf: np.ndarray, X: np.ndarray
         ) -> np.ndarray:
    """Each user's leaf: from the root (node 0), the nearer child at every split (the first
    child on a tie, as pyspark.ml's minBy)."""
    X = np.asarray(X, dtype=np.float64)
    node = np.zeros(len(X), dtype=np.int64)
    while True:
        inner = np.flatnonzero(children[node, 0] != LEAF)
        if not len(inner):
            return leaf[node].astype(np.int32)
        at = node[inner]
        left, right = children[at, 0], children[at, 1]
        to_left = ((X[inner] - centers[left]) ** 2).sum(axis=1)
        to_right = ((X[inner] - centers[right]) ** 2).sum(axis=1)
        node[inner] = np.where(to_right < to_left, right, left)


def bisect(X: np.ndarray, k: int, *, n_init: int = 4, max_iter: int = 100,
           random_state: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tree (node centres, children, leaf numbers) of the split rule in the module
    docstring; leaves numbered in the order they are made final."""
    if k < 1:
        raise ConfigError(f"bisecting needs K >= 1, got {k}")
    centers: list[np.ndarray] = [X.mean(axis=0)]
    children: list[list[int]] = [[LEAF, LEAF]]
    members: dict[int, np.ndarray] = {0: np.arange(len(X))}
    active, needed = [0], k - 1
    while active and needed > 0:
        divisible = [n for n in active if _divisible(X[members[n]])]
        divisible = sorted(divisible, key=lambda n: -len(members[n]))[:needed]
        active = []
        for node in divisible:
            rows = members.pop(node)
            split = KMeans(2, n_init=n_init, max_iter=max_iter,
                           random_state=random_state).fit(X[rows])
            for side in (0, 1):
                children[node][side] = len(centers)
                part = rows[split.labels_ == side]
                members[len(centers)] = part
                active.append(len(centers))
                centers.append(X[part].mean(axis=0))
                children.append([LEAF, LEAF])
        needed -= len(divisible)
        if not divisible:
            break
    children_array = np.array(children, dtype=np.int32)
    leaf = np.full(len(centers), LEAF, dtype=np.int32)
    leaves = np.flatnonzero(children_array[:, 0] == LEAF)
    leaf[leaves] = np.arange(len(leaves))
    return np.array(centers), children_array, leaf


def _divisible(rows: np.ndarray) -> bool:
    """Two or more users that are not all the same point (2-means needs two distinct)."""
    return len(rows) >= 2 and bool(np.ptp(rows, axis=0).max() > 0)


def tree_from_spark(nodes: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                             np.ndarray]:
    """The tree of a saved pyspark.ml BisectingKMeansModel (its data rows: index, size,
    center, children; leaves have index >= 0, Spark's cluster number): centres, children,
    leaf numbers (Spark's), and each leaf's size, the root first."""
    by_index = {int(n["index"]): n for n in nodes}
    child_ids = {int(c) for n in nodes for c in n["children"]}
    roots = [i for i in by_index if i not in child_ids]
    if len(roots) != 1:
        raise ValueError(f"a bisecting tree has one root; found {len(roots)}")
    order, position = [], {}
    stack = [roots[0]]
    while stack:  # depth first, the first child first: node 0 is the root
        index = stack.pop()
        position[index] = len(order)
        order.append(index)
        stack.extend(reversed([int(c) for c in by_index[index]["children"]]))
    centers = np.array([_dense(by_index[i]["center"]) for i in order])
    children = np.full((len(order), 2), LEAF, dtype=np.int32)
    leaf = np.full(len(order), LEAF, dtype=np.int32)
    sizes: dict[int, int] = {}
    for row, index in enumerate(order):
        kids = [int(c) for c in by_index[index]["children"]]
        if kids:
            if len(kids) != 2:
                raise ValueError(f"a bisecting split has two children; node {index} has "
                                 f"{len(kids)}")
            children[row] = [position[kids[0]], position[kids[1]]]
        else:
            leaf[row] = index
            sizes[index] = int(by_index[index]["size"])
    return centers, children, leaf, np.array([sizes[i] for i in range(len(sizes))],
                                             dtype=np.int64)


def _dense(vector: Any) -> np.ndarray:
    """A Spark ML vector as saved in Parquet (type 1 dense: values; 0 sparse)."""
    if int(vector["type"]) == 1:
        return np.asarray(vector["values"], dtype=np.float64)
    out = np.zeros(int(vector["size"]))
    out[np.asarray(vector["indices"], dtype=int)] = vector["values"]
    return out
