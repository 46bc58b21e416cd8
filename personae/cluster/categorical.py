"""K-prototypes: numbers by squared distance, categories as categories (kmodes package).

The preprocessor one-hot encodes each category into a block of columns; this segmenter
reads each block back as one categorical code (its hot column), so a category counts as
one mismatch, not as a handful of 0/1 coordinates. Fitted on a sample (the kmodes solver
is slow); every user is labelled by the k-prototypes cost to the nearest prototype.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from personae.cluster._base import K_PARAMS, K_SEARCH_ROWS, Param, Segmenter, relabel, size_order
from personae.cluster.search import choose_k
from personae.errors import ConfigError


class KPrototypesSegmenter(Segmenter):
    """k-prototypes (Huang 1998) over the kmodes package, for mixed numbers + categories."""

    name: ClassVar[str] = "kprototypes"
    summary: ClassVar[str] = "mixed numeric + categorical users; categories kept as such"
    uses_k: ClassVar[bool] = True
    default_sample: ClassVar[int | None] = 5_000
    PARAMS: ClassVar[dict[str, Param]] = {
        **K_PARAMS,
        "categorical_blocks": Param(list, None, auto=True,
                                    help="[start, stop) column ranges of one-hot categories "
                                         "(set by SegmentModel)"),
        "gamma": Param(float, None, low=0.0, auto=True,
                       help="weight of one category mismatch; automatic = kmodes' "
                            "0.5 x mean std of the numbers"),
        "n_init": Param(int, 2, low=1, help="starts"),
    }

    def _split(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        blocks = [(int(a), int(b)) for a, b in self.categorical_blocks]
        in_block = np.zeros(X.shape[1], dtype=bool)
        for a, b in blocks:
            in_block[a:b] = True
        codes = np.column_stack([np.argmax(X[:, a:b], axis=1) for a, b in blocks]) \
            .astype(np.int32)
        return X[:, ~in_block], codes

    def _fit(self, X: np.ndarray) -> np.ndarray:
        if not self.categorical_blocks:
            raise ConfigError("kprototypes needs categorical columns (categorical_blocks); "
                              "the features are all numbers: use kmeans or gmm")
        numbers, codes = self._split(X)
        k = self.n_clusters
        if k is None:
            low, high = self.k_range
            rows = X[self._search_rows(len(X), K_SEARCH_ROWS)]
            selection = choose_k(rows, list(range(low, min(high, len(rows) - 1) + 1)),
                                 random_state=self.random_state)
            k = selection.chosen_k
            self.why_.append(f"K={k} by the K-means vote on the encoded users ({low}..{high})")
        if k > len(X):
            raise ConfigError(f"n_clusters={k} is more than the {len(X)} users to cluster")
        if numbers.shape[1]:
            from kmodes.kprototypes import KPrototypes

            # Start from K-means on the encoded users: Cao's deterministic start can leave
            # k-prototypes in a poor optimum (ARI 0.56 on three clean groups).
            from sklearn.cluster import KMeans

            start = KMeans(k, n_init=self.n_init, random_state=self.random_state).fit(X)
            num_init, cat_init = self._split(start.cluster_centers_)
            model = KPrototypes(n_clusters=k, init=[num_init.astype(np.float64), cat_init],
                                n_init=1, gamma=self.gamma, random_state=self.random_state)
            n_num = numbers.shape[1]
            mixed = np.column_stack([numbers.astype(np.float64), codes])
            raw = model.fit_predict(mixed, categorical=list(range(n_num, mixed.shape[1])))
            gamma = float(model.gamma)
        else:
            from kmodes.kmodes import KModes

            raw = KModes(n_clusters=k, init="Cao", n_init=self.n_init,
                         random_state=self.random_state).fit_predict(codes)
            gamma = 1.0
        raw = relabel(np.asarray(raw, dtype=np.int64), size_order(np.asarray(raw)))
        n_found = int(raw.max()) + 1
        self.numeric_centers_ = np.stack([
            numbers[raw == c].mean(axis=0) if numbers.shape[1] else np.zeros(0)
            for c in range(n_found)]).astype(np.float32)
        self.category_modes_ = np.stack([
            [np.bincount(codes[raw == c, j]).argmax() for j in range(codes.shape[1])]
            for c in range(n_found)]).astype(np.int32)
        self.gamma_ = gamma
        self.n_segments_ = n_found
        self.resolved_params_.update(n_clusters=n_found, gamma=gamma)
        if self.gamma is None:
            self.why_.append(f"gamma={gamma:.3g}: one category mismatch weighs as much as that "
                             "squared distance in the numbers")
        return raw

    def cost(self, X: np.ndarray) -> np.ndarray:
        """k-prototypes cost of each user to each prototype, shape ``(n, K)``."""
        numbers, codes = self._split(np.asarray(X, dtype=np.float32))
        d = ((numbers[:, None, :] - self.numeric_centers_[None, :, :]) ** 2).sum(axis=2) \
            if numbers.shape[1] else np.zeros((len(X), self.n_segments_))
        mismatches = (codes[:, None, :] != self.category_modes_[None, :, :]).sum(axis=2)
        return d + self.gamma_ * mismatches

    def predict(self, X: np.ndarray) -> np.ndarray:
        self._check_fitted("category_modes_")
        out = np.empty(len(X), dtype=np.int32)
        for start in range(0, len(X), 100_000):
            out[start:start + 100_000] = np.argmin(self.cost(X[start:start + 100_000]), axis=1)
        return out

    def distance(self, X: np.ndarray) -> np.ndarray:
        out = np.empty(len(X))
        for start in range(0, len(X), 100_000):
            out[start:start + 100_000] = np.sqrt(
                np.min(self.cost(X[start:start + 100_000]), axis=1))
        return out

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return ({**self._state_params(), "gamma_": self.gamma_},
                {"numeric_centers": self.numeric_centers_,
                 "category_modes": self.category_modes_})

    @classmethod
    def from_state(cls, params: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
        self = cls._from_params(params)
        self.gamma_ = float(params["gamma_"])
        self.numeric_centers_ = np.asarray(arrays["numeric_centers"], dtype=np.float32)
        self.category_modes_ = np.asarray(arrays["category_modes"], dtype=np.int32)
        return self
