"""The registry of clustering algorithms personae can fit, save and apply to new users.

Every algorithm is a small class with one contract: ``fit(X)`` learns state and sets
``labels_``; ``predict(X)`` gives new users a segment; ``to_state`` / ``from_state``
round-trip the learned state through JSON parameters and numpy arrays (no pickle).
Segments are numbered by size, largest first, so labels do not depend on the random
order in which a solver happened to find them.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import pairwise_distances_argmin

from personae.errors import ConfigError, NotFittedError


class Segmenter(Protocol):
    name: ClassVar[str]
    labels_: np.ndarray

    def fit(self, X: np.ndarray) -> Segmenter: ...

    def predict(self, X: np.ndarray) -> np.ndarray: ...

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]: ...


class KMeansSegmenter:
    """K-means (Lloyd, k-means++ seeding, best of ``n_init`` starts) over scikit-learn."""

    name: ClassVar[str] = "kmeans"

    def __init__(self, n_clusters: int, *, n_init: int = 4, random_state: int = 0,
                 init: np.ndarray | None = None, max_iter: int = 300) -> None:
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.random_state = random_state
        self.init = init
        self.max_iter = max_iter

    def fit(self, X: np.ndarray) -> KMeansSegmenter:
        if not isinstance(self.n_clusters, int) or self.n_clusters < 2:
            raise ConfigError(f"n_clusters must be an int >= 2; got {self.n_clusters!r}")
        if self.n_clusters > len(X):
            raise ConfigError(f"n_clusters={self.n_clusters} is more than the "
                              f"{len(X)} users to cluster")
        init = "k-means++" if self.init is None else np.asarray(self.init, dtype=X.dtype)
        model = KMeans(
            n_clusters=self.n_clusters,
            init=init,
            n_init=self.n_init if self.init is None else 1,
            max_iter=self.max_iter,
            random_state=self.random_state,
        ).fit(X)
        sizes = np.bincount(model.labels_, minlength=self.n_clusters)
        order = np.lexsort((np.arange(self.n_clusters), -sizes))
        self.cluster_centers_ = model.cluster_centers_[order]
        self.inertia_ = float(model.inertia_)
        self.n_iter_ = int(model.n_iter_)
        self.labels_ = self.predict(X)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        if not hasattr(self, "cluster_centers_"):
            raise NotFittedError("KMeansSegmenter.predict called before fit")
        centers = self.cluster_centers_.astype(X.dtype, copy=False)
        return pairwise_distances_argmin(X, centers).astype(np.int32)

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        params = {"n_clusters": self.n_clusters, "n_init": self.n_init,
                  "random_state": self.random_state, "inertia": self.inertia_,
                  "n_iter": self.n_iter_}
        return params, {"cluster_centers": self.cluster_centers_}

    @classmethod
    def from_state(cls, params: dict[str, Any], arrays: dict[str, np.ndarray]
                   ) -> KMeansSegmenter:
        self = cls(int(params["n_clusters"]), n_init=int(params["n_init"]),
                   random_state=int(params["random_state"]))
        self.cluster_centers_ = np.asarray(arrays["cluster_centers"])
        self.inertia_ = float(params["inertia"])
        self.n_iter_ = int(params["n_iter"])
        return self


ALGORITHMS: dict[str, type[Any]] = {KMeansSegmenter.name: KMeansSegmenter}


def algorithm_class(name: str) -> type[Any]:
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise ConfigError(f"unknown algorithm {name!r}; choose one of "
                          f"{sorted(ALGORITHMS)}") from None
