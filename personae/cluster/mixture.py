"""Gaussian mixtures: soft segments, for users who are partly one thing and partly another."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from personae.cluster._base import K_PARAMS, Param, Segmenter, threads_for
from personae.errors import ConfigError, NotFittedError

if TYPE_CHECKING:  # imported where used: a model's assignment reads memberships_summary
    from sklearn.mixture import GaussianMixture

COVARIANCE_TYPES = ("full", "diag", "tied", "spherical")
BIC_ROWS = 5_000


class GaussianMixtureSegmenter(Segmenter):
    """Gaussian mixture; K and the covariance type by BIC; probability of every segment."""

    name: ClassVar[str] = "gmm"
    summary: ClassVar[str] = "soft, elliptical segments; probability per segment"
    uses_k: ClassVar[bool] = True
    default_sample: ClassVar[int | None] = 50_000
    PARAMS: ClassVar[dict[str, Param]] = {
        **K_PARAMS,
        "covariance_type": Param(str, None, choices=COVARIANCE_TYPES, auto=True,
                                 help="shape of each segment; automatic = lowest BIC"),
        "n_init": Param(int, 3, low=1, help="EM starts, for every mixture in the BIC search "
                                            "and for the final fit"),
        "mixed_threshold": Param(float, 0.6, low=0.0, high=1.0, low_open=True,
                                 help="users whose top probability is below it are 'mixed'"),
    }

    def _fit(self, X: np.ndarray) -> np.ndarray:
        # In float32, EM computes the zero variance of a segment that is constant in a column
        # (a rare 0/1 flag is ~10 once standardised) as negative, and stops with
        # "ill-defined empirical covariance".
        X = np.asarray(X, dtype=np.float64)
        types = COVARIANCE_TYPES if self.covariance_type is None else (self.covariance_type,)
        search = X[self._search_rows(len(X), BIC_ROWS)]
        if self.n_clusters is not None:
            if self.n_clusters > len(X):
                raise ConfigError(f"n_clusters={self.n_clusters} is more than the {len(X)} "
                                  "users to cluster")
            ks = [int(self.n_clusters)]
        else:
            low, high = self.k_range
            ks = list(range(low, min(high, len(search) - 1) + 1))
        table = []
        if len(ks) * len(types) > 1:
            table = self._bic_table(search, types, ks)
            failed = sum(not np.isfinite(row["bic"]) for row in table)
            if failed == len(table):
                raise ConfigError("gmm: no mixture could be fitted (every one had a segment "
                                  "with a collapsed covariance); try another algorithm")
            if failed:
                self.why_.append(f"{failed} of {len(table)} mixtures could not be fitted (a "
                                 "segment with a collapsed covariance) and were left out")
            best = min(table, key=lambda row: (row["bic"], row["k"]))
            k, cov = int(best["k"]), str(best["covariance_type"])
            self.why_.append(f"K={k} and covariance '{cov}' have the lowest BIC of "
                             f"{len(table)} mixtures on {len(search):,} users (one EM start "
                             f"each; the lowest and its neighbouring K with {self.n_init})")
            if k == max(ks) and len(ks) > 1:
                self.why_.append(f"K={k} is the largest K tried: the BIC may still fall beyond "
                                 "it (widen k_range), or columns with a few distinct values let "
                                 "components collapse onto them")
        else:
            k, cov = ks[0], types[0]
        self.bic_table_ = table
        model = _fitted(self._mixture(k, cov, n_init=self.n_init), X)
        self.converged_ = bool(model.converged_)
        if not self.converged_:
            self.why_.append("EM stopped at max_iter before converging")
        raw = model.predict(X)
        sizes = np.bincount(raw, minlength=k)
        order = np.lexsort((np.arange(k), -sizes))
        self.weights_ = model.weights_[order]
        self.means_ = model.means_[order]
        if cov == "tied":
            self.covariances_ = model.covariances_
            self.precisions_cholesky_ = model.precisions_cholesky_
        else:
            self.covariances_ = model.covariances_[order]
            self.precisions_cholesky_ = model.precisions_cholesky_[order]
        self.covariance_type_ = cov
        self.n_segments_ = k
        self.resolved_params_.update(n_clusters=k, covariance_type=cov)
        mapping = np.empty(k, dtype=np.int32)
        mapping[order] = np.arange(k)
        return mapping[raw]

    def _bic_table(self, search: np.ndarray, types: tuple[str, ...], ks: list[int]
                   ) -> list[dict[str, Any]]:
        """The BIC of every (covariance type, K) from one EM start, then of the lowest and
        its neighbouring K from ``n_init`` starts. One start often ends in a poor optimum
        (two components in one big segment), which makes the true K look worse than K + 1:
        the neighbours get the starts that correct that, without paying them for every
        mixture (the search's cost is its number of EM runs)."""
        with threads_for(len(search)):
            return self._searched(search, types, ks)

    def _searched(self, search: np.ndarray, types: tuple[str, ...], ks: list[int]
                  ) -> list[dict[str, Any]]:
        table = {(cov, k): self._bic(search, k, cov, n_init=1) for cov in types for k in ks}
        refitted: set[tuple[str, int]] = set()
        while self.n_init > 1:  # until the lowest and its neighbours all had their starts
            cov, k = min(table, key=lambda key: (table[key], key[1]))
            near = [(cov, j) for j in (k - 1, k, k + 1) if (cov, j) in table]
            todo = [key for key in near if key not in refitted]
            if not todo:
                break
            for key in todo:
                table[key] = self._bic(search, key[1], key[0], n_init=self.n_init)
                refitted.add(key)
        return [{"k": k, "covariance_type": cov, "bic": bic} for (cov, k), bic in table.items()]

    def _bic(self, search: np.ndarray, k: int, cov: str, n_init: int) -> float:
        try:
            return float(_fitted(self._mixture(k, cov, n_init=n_init), search).bic(search))
        except ValueError:  # a collapsed component: this mixture cannot be fitted
            return float(np.inf)

    def _mixture(self, k: int, cov: str, n_init: int) -> GaussianMixture:
        from sklearn.mixture import GaussianMixture

        return GaussianMixture(n_components=k, covariance_type=cov, n_init=n_init,
                               reg_covar=1e-5, random_state=self.random_state)

    def _rebuilt(self) -> GaussianMixture:
        from sklearn.mixture import GaussianMixture

        if not hasattr(self, "means_"):
            raise NotFittedError("GaussianMixtureSegmenter.predict called before fit")
        gm = GaussianMixture(n_components=self.n_segments_, covariance_type=self.covariance_type_)
        gm.weights_ = self.weights_
        gm.means_ = self.means_
        gm.covariances_ = self.covariances_
        gm.precisions_cholesky_ = self.precisions_cholesky_
        return gm

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probability of every segment for each user (rows sum to 1)."""
        return self._rebuilt().predict_proba(np.asarray(X, dtype=np.float64))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.argmax(self.predict_proba(X), axis=1).astype(np.int32)

    def distance(self, X: np.ndarray) -> np.ndarray:
        """Mahalanobis-free proxy: Euclidean distance to the nearest segment mean."""
        from sklearn.metrics import pairwise_distances_argmin_min

        return pairwise_distances_argmin_min(np.asarray(X, dtype=np.float64), self.means_)[1]

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        params = {**self._state_params(), "covariance_type": self.covariance_type_,
                  "converged": self.converged_}
        return params, {"weights": self.weights_, "means": self.means_,
                        "covariances": self.covariances_,
                        "precisions_cholesky": self.precisions_cholesky_}

    @classmethod
    def from_state(cls, params: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
        self = cls._from_params(params)
        self.covariance_type_ = str(params["covariance_type"])
        self.converged_ = bool(params["converged"])
        for key in ("weights", "means", "covariances", "precisions_cholesky"):
            setattr(self, f"{key}_", np.asarray(arrays[key], dtype=np.float64))
        return self


def _fitted(mixture: GaussianMixture, X: np.ndarray) -> GaussianMixture:
    """``mixture.fit(X)``, its non-convergence read from ``converged_``, not a warning."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return mixture.fit(X)


def memberships_summary(proba: np.ndarray, threshold: float) -> dict[str, np.ndarray]:
    """Assigned probability, runner-up segment and probability, and the 'mixed' flag."""
    order = np.argsort(-proba, axis=1, kind="stable")
    rows = np.arange(len(proba))
    first = proba[rows, order[:, 0]]
    if proba.shape[1] > 1:
        second_segment = order[:, 1].astype(np.int32)
        second = proba[rows, order[:, 1]]
    else:
        second_segment = np.full(len(proba), -1, dtype=np.int32)
        second = np.zeros(len(proba))
    return {"probability": first, "second_segment": second_segment,
            "second_probability": second, "mixed": first < threshold}
