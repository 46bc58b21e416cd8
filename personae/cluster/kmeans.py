"""K-means and mini-batch K-means: nearest-centroid segments, K chosen by the vote.

scikit-learn is imported by the methods that use it: a saved model loads its centres and
assigns users (``SegmentModel._nearest``) with numpy alone."""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np

from personae.cluster._base import K_PARAMS, K_SEARCH_ROWS, Param, Segmenter, relabel, size_order
from personae.errors import ConfigError, NotFittedError


class _CentroidSegmenter(Segmenter):
    """Shared by K-means and mini-batch K-means: nearest-centroid prediction."""

    uses_k: ClassVar[bool] = True
    cluster_centers_: np.ndarray

    def _auto_k(self, X: np.ndarray) -> tuple[int, np.ndarray | None]:
        if self.n_clusters is not None:  # type: ignore[attr-defined]
            k = int(self.n_clusters)  # type: ignore[attr-defined]
            if k > len(X):
                raise ConfigError(f"n_clusters={k} is more than the {len(X)} users to cluster")
            return k, None
        from personae.cluster.search import choose_k

        low, high = self.k_range  # type: ignore[attr-defined]
        ks = list(range(low, min(high, len(X) - 1) + 1))
        if not ks:
            raise ConfigError(f"{len(X)} users are too few to search K in {low}..{high}")
        rows = X[self._search_rows(len(X), K_SEARCH_ROWS)]
        self.k_selection_ = choose_k(rows, ks, random_state=self.random_state)  # type: ignore
        k = self.k_selection_.chosen_k
        self.why_.append(f"K={k} by the vote of elbow, silhouette, Davies-Bouldin and "
                         f"Calinski-Harabasz among stable K in {low}..{high} on "
                         f"{len(rows):,} users")
        return k, self.k_selection_.centers[k]

    def _set_centers(self, centers: np.ndarray, labels: np.ndarray) -> np.ndarray:
        mapping = size_order(labels)
        order = np.argsort(mapping)
        self.cluster_centers_ = np.asarray(centers, dtype=np.float32)[order]
        self.n_segments_ = len(order)
        self.resolved_params_["n_clusters"] = int(len(order))
        return relabel(labels, mapping)

    def predict(self, X: np.ndarray) -> np.ndarray:
        from sklearn.metrics import pairwise_distances_argmin_min

        if not hasattr(self, "cluster_centers_"):
            raise NotFittedError(f"{type(self).__name__}.predict called before fit")
        X = np.asarray(X, dtype=np.float32)
        return pairwise_distances_argmin_min(X, self.cluster_centers_)[0].astype(np.int32)

    def distance(self, X: np.ndarray) -> np.ndarray:
        from sklearn.metrics import pairwise_distances_argmin_min

        return pairwise_distances_argmin_min(np.asarray(X, dtype=np.float32),
                                             self.cluster_centers_)[1]

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        params = {**self._state_params(), "inertia": self.inertia_}  # type: ignore
        return params, {"cluster_centers": self.cluster_centers_}

    @classmethod
    def from_state(cls, params: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
        self = cls._from_params(params)
        self.cluster_centers_ = np.asarray(arrays["cluster_centers"], dtype=np.float32)
        self.inertia_ = float(params["inertia"])
        return self


class KMeansSegmenter(_CentroidSegmenter):
    """K-means (Lloyd, k-means++ seeding, best of ``n_init`` starts) over scikit-learn."""

    name: ClassVar[str] = "kmeans"
    summary: ClassVar[str] = "round groups of similar size; fast; K by vote"
    PARAMS: ClassVar[dict[str, Param]] = {
        **K_PARAMS,
        "n_init": Param(int, 4, low=1, help="k-means++ starts"),
        "max_iter": Param(int, 300, low=1, help="Lloyd iterations"),
    }

    def __init__(self, n_clusters: int | None = None, *, init: np.ndarray | None = None,
                 **params: Any) -> None:
        super().__init__(n_clusters=n_clusters, **params)
        self.init = init

    def _fit(self, X: np.ndarray) -> np.ndarray:
        from sklearn.cluster import KMeans

        k, searched = self._auto_k(X)
        init = self.init if self.init is not None else searched
        if init is None and len(X) > K_SEARCH_ROWS:
            # Search the starts on a sample, then refine once on everyone.
            init = KMeansSegmenter(k, n_init=self.n_init, random_state=self.random_state) \
                .fit(X[self._search_rows(len(X), K_SEARCH_ROWS)]).cluster_centers_
        model = KMeans(
            n_clusters=k,
            init="k-means++" if init is None else np.asarray(init, dtype=X.dtype),
            n_init=self.n_init if init is None else 1,
            max_iter=self.max_iter, random_state=self.random_state,
        ).fit(X)
        self.inertia_ = float(model.inertia_)
        self.n_iter_ = int(model.n_iter_)
        return self._set_centers(model.cluster_centers_, model.labels_)


class MiniBatchSegmenter(_CentroidSegmenter):
    """Mini-batch K-means: K-means on small random batches, for millions of users."""

    name: ClassVar[str] = "minibatch"
    summary: ClassVar[str] = "K-means on mini-batches, for scale"
    PARAMS: ClassVar[dict[str, Param]] = {
        **K_PARAMS,
        "batch_size": Param(int, 4096, low=16, help="users per mini-batch"),
        "n_init": Param(int, 3, low=1, help="starts"),
    }

    def _fit(self, X: np.ndarray) -> np.ndarray:
        from sklearn.cluster import MiniBatchKMeans
        from sklearn.exceptions import ConvergenceWarning

        k, init = self._auto_k(X)
        with warnings.catch_warnings():
            # A stop on max_iter is reported through n_iter_, not as a failure.
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = MiniBatchKMeans(
                n_clusters=k, batch_size=self.batch_size,
                init="k-means++" if init is None else init,
                n_init=self.n_init if init is None else 1, random_state=self.random_state,
            ).fit(X)
        self.inertia_ = float(model.inertia_)
        return self._set_centers(model.cluster_centers_, model.labels_)
