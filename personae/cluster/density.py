"""Density and mode seeking: DBSCAN, HDBSCAN (edge users = -1) and mean shift.

All three are O(n^2) in time or memory at worst, so each is fitted on a sample of users
(``sample_size``, stated in ``why_``) and every user is then labelled through ``predict``:
DBSCAN by the nearest core sample point within ``eps`` (the DBSCAN rule itself), HDBSCAN
by the nearest sample point when it lies within that point's core distance, mean shift by
the nearest mode. Anyone not reached is an edge user (``-1``): kept, labelled, profiled.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np
from sklearn.cluster import DBSCAN, HDBSCAN, estimate_bandwidth, get_bin_seeds
from sklearn.metrics import pairwise_distances_argmin_min
from sklearn.neighbors import NearestNeighbors

from personae.cluster._base import (
    MIN_SEGMENT_USERS,
    NOISE,
    NearestSampleMixin,
    Param,
    Segmenter,
    chord_gaps,
    relabel,
    size_order,
)
from personae.errors import ConfigError

BANDWIDTH_ROWS = 2_000


def kdistance_knee(distances: np.ndarray) -> float:
    """The knee of the sorted k-distance curve (Kneedle: farthest below the chord)."""
    d = np.sort(distances)
    if len(d) < 3 or d[-1] <= d[0]:
        return float(d[-1]) if len(d) else 1.0
    return float(d[int(np.argmax(chord_gaps(np.arange(len(d)), d)))])


def mean_shift_modes(X: np.ndarray, bandwidth: float, max_iter: int = 300) -> np.ndarray:
    """The modes scikit-learn's ``MeanShift(bin_seeding=True)`` finds, computed alike.

    Same flat kernel, seeds, stopping rule (a shift of at most 1e-3 x bandwidth, or
    ``max_iter``) and merging of modes closer than the bandwidth (the denser one stays), so
    the modes are identical; but all seeds climb together, one neighbour query per step for
    all of them instead of one per seed, which is what made mean shift the slowest candidate
    of ``--algorithm auto``.
    """
    X = np.asarray(X, dtype=np.float64)
    with warnings.catch_warnings():
        # On a few users every bin holds one user and the users themselves are the seeds,
        # which is what we want; the warning says only that.
        warnings.filterwarnings("ignore", message="Binning data failed")
        means = np.array(get_bin_seeds(X, bandwidth, 1), dtype=np.float64)
    neighbours_of = NearestNeighbors(radius=bandwidth).fit(X)
    stop = 1e-3 * bandwidth
    counts = np.zeros(len(means), dtype=np.int64)
    steps = np.zeros(len(means), dtype=np.int64)
    climbing = np.arange(len(means))
    while len(climbing):
        still = []
        for seed, near in zip(climbing, neighbours_of.radius_neighbors(
                means[climbing], return_distance=False), strict=True):
            counts[seed] = len(near)
            if len(near) == 0:
                continue
            before = means[seed].copy()
            means[seed] = X[near].mean(axis=0)
            if np.linalg.norm(means[seed] - before) > stop and steps[seed] < max_iter:
                steps[seed] += 1
                still.append(seed)
        climbing = np.array(still, dtype=np.int64)
    density = {tuple(mode): int(count) for mode, count in zip(means, counts, strict=True)
               if count}
    if not density:
        raise ConfigError(f"meanshift: no user lies within bandwidth={bandwidth:.4g} of any "
                          "seed; raise the bandwidth")
    modes = np.array([mode for mode, _ in sorted(density.items(),
                                                 key=lambda item: (item[1], item[0]),
                                                 reverse=True)])
    keep = np.ones(len(modes), dtype=bool)
    near_modes = NearestNeighbors(radius=bandwidth).fit(modes)
    for i, mode in enumerate(modes):
        if keep[i]:
            keep[near_modes.radius_neighbors([mode], return_distance=False)[0]] = False
            keep[i] = True
    return modes[keep]


def _smallest_segment(min_share: float, users: int) -> float:
    """Users a segment needs: ``min_share`` of them, and MIN_SEGMENT_USERS unless the
    share was set to 0 (every group kept)."""
    return max(min_share * users, MIN_SEGMENT_USERS) if min_share > 0 else 0.0


def _default_min_samples(n_features: int) -> int:
    return int(np.clip(2 * n_features, 4, 30))


class _SampledDensity(NearestSampleMixin, Segmenter):
    finds_noise: ClassVar[bool] = True
    default_sample: ClassVar[int | None] = 10_000
    radius_: np.ndarray

    def _keep(self, X: np.ndarray, raw: np.ndarray, radius: np.ndarray) -> np.ndarray:
        labels = relabel(raw, size_order(raw))
        keep = (labels >= 0) & np.isfinite(radius)
        self.points_ = X[keep]
        self.point_labels_ = labels[keep]
        self.radius_ = radius[keep].astype(np.float32)
        self.n_segments_ = int(labels.max()) + 1 if (labels >= 0).any() else 0
        if self.n_segments_ == 0:
            self.points_ = X[:1]
            self.point_labels_ = np.array([NOISE], dtype=np.int32)
            self.radius_ = np.zeros(1, dtype=np.float32)
            self.why_.append("every user came out as an edge user: lower min_samples or "
                             "raise eps / lower min_cluster_size")
        return labels

    def predict(self, X: np.ndarray) -> np.ndarray:
        self._check_fitted("points_")
        index, dist = self._nearest(X)
        labels = self.point_labels_[index].copy()
        labels[dist > self.radius_[index]] = NOISE
        return labels.astype(np.int32)

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return self._state_params(), {"points": self.points_, "labels": self.point_labels_,
                                      "radius": self.radius_}

    @classmethod
    def from_state(cls, params: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
        self = cls._from_params(params)
        self.points_ = np.asarray(arrays["points"], dtype=np.float32)
        self.point_labels_ = np.asarray(arrays["labels"], dtype=np.int32)
        self.radius_ = np.asarray(arrays["radius"], dtype=np.float32)
        return self


class DBSCANSegmenter(_SampledDensity):
    """DBSCAN; eps from the knee of the k-distance curve; noise = edge users (-1)."""

    name: ClassVar[str] = "dbscan"
    summary: ClassVar[str] = "dense regions of any shape; edge users apart"
    PARAMS: ClassVar[dict[str, Param]] = {
        "eps": Param(float, None, low=0.0, low_open=True, auto=True,
                     help="neighbourhood radius; automatic = knee of the k-distance curve"),
        "min_samples": Param(int, None, low=2, auto=True,
                             help="neighbours that make a core user; automatic = 2 x features"),
        "min_share": Param(float, 0.01, low=0.0, high=0.5,
                           help="dense groups holding fewer users are edge users, not segments"),
    }

    def _fit(self, X: np.ndarray) -> np.ndarray:
        min_samples = self.min_samples or _default_min_samples(X.shape[1])
        min_samples = min(min_samples, len(X) - 1)
        eps = self.eps
        if eps is None:
            nn = NearestNeighbors(n_neighbors=min_samples).fit(X)
            kdist = nn.kneighbors(X)[0][:, -1]
            eps = max(kdistance_knee(kdist), 1e-6)
            self.why_.append(f"eps={eps:.4g} at the knee of the {min_samples}-distance curve")
        if self.min_samples is None:
            self.why_.append(f"min_samples={min_samples} (2 x {X.shape[1]} features, "
                             "clipped to 4..30)")
        model = DBSCAN(eps=eps, min_samples=min_samples).fit(X)
        radius = np.full(len(X), np.inf)
        radius[model.core_sample_indices_] = eps
        self.resolved_params_.update(eps=float(eps), min_samples=int(min_samples))
        return self._keep(X, self._drop_tiny(model.labels_), radius)

    def _drop_tiny(self, raw: np.ndarray) -> np.ndarray:
        """A handful of users packed together is no segment to build a persona on (HDBSCAN
        has min_cluster_size for this; DBSCAN's min_samples is far smaller): their users
        become edge users, unless that would leave no segment at all."""
        sizes = np.bincount(raw[raw >= 0]) if (raw >= 0).any() else np.zeros(0, dtype=int)
        tiny = np.flatnonzero(sizes < _smallest_segment(self.min_share, len(raw)))
        if len(tiny) == 0 or len(tiny) == len(sizes):
            return raw
        self.why_.append(f"{len(tiny)} dense groups with < {self.min_share:.0%} of users (at "
                         f"least {MIN_SEGMENT_USERS}; {int(sizes[tiny].sum())} users) kept as "
                         "edge users")
        return np.where(np.isin(raw, tiny), NOISE, raw)


class HDBSCANSegmenter(_SampledDensity):
    """HDBSCAN; min_cluster_size from the number of users; noise = edge users (-1)."""

    name: ClassVar[str] = "hdbscan"
    summary: ClassVar[str] = "dense regions of varying density; edge users apart"
    PARAMS: ClassVar[dict[str, Param]] = {
        "min_cluster_size": Param(int, None, low=2, auto=True,
                                  help="smallest segment; automatic = 1% of the sample, >= 10"),
        "min_samples": Param(int, None, low=1, auto=True,
                             help="density smoothing; automatic = 5 (not min_cluster_size, "
                                  "which makes most users noise)"),
    }

    def _fit(self, X: np.ndarray) -> np.ndarray:
        if self.min_cluster_size is not None and self.min_cluster_size > len(X):
            raise ConfigError(f"min_cluster_size={self.min_cluster_size} is more than the "
                              f"{len(X):,} users hdbscan is fitted on; every user would be "
                              "an edge user")
        mcs = self.min_cluster_size or max(10, round(0.01 * len(X)))
        min_samples = self.min_samples or 5
        mcs, min_samples = min(mcs, len(X)), min(min_samples, len(X) - 1)
        if self.min_cluster_size is None:
            self.why_.append(f"min_cluster_size={mcs} (1% of {len(X):,} users, at least 10); "
                             f"min_samples={min_samples}")
        model = HDBSCAN(min_cluster_size=mcs, min_samples=min_samples, copy=True).fit(X)
        core = NearestNeighbors(n_neighbors=min(min_samples + 1, len(X))).fit(X) \
            .kneighbors(X)[0][:, -1]
        # A new user joins the segment of its nearest sample user when it is no farther
        # than that segment's typical core distance (95th percentile); else an edge user.
        radius = np.full(len(X), np.inf)
        for c in np.unique(model.labels_[model.labels_ >= 0]):
            members = model.labels_ == c
            radius[members] = np.quantile(core[members], 0.95)
        self.resolved_params_.update(min_cluster_size=int(mcs), min_samples=int(min_samples))
        return self._keep(X, model.labels_, radius)


class MeanShiftSegmenter(_SampledDensity):
    """Mean shift with an estimated bandwidth and bin seeding; tiny modes are merged."""

    name: ClassVar[str] = "meanshift"
    summary: ClassVar[str] = "modes of the density; K found, not given"
    finds_noise: ClassVar[bool] = False
    default_sample: ClassVar[int | None] = 5_000
    PARAMS: ClassVar[dict[str, Param]] = {
        "bandwidth": Param(float, None, low=0.0, low_open=True, auto=True,
                           help="kernel width; automatic = estimate_bandwidth(quantile)"),
        "quantile": Param(float, 0.1, low=0.0, high=1.0, low_open=True,
                          help="neighbour quantile for the bandwidth estimate"),
        "min_share": Param(float, 0.01, low=0.0, high=0.5,
                           help="modes holding fewer users are merged into the nearest one"),
    }

    def _fit(self, X: np.ndarray) -> np.ndarray:
        bandwidth = self.bandwidth
        if bandwidth is None:
            rows = X[self._search_rows(len(X), BANDWIDTH_ROWS)]
            # The kernel spans at least a smallest segment's worth of neighbours: on a few
            # users the quantile would be the user itself (bandwidth 0, one mode per user).
            quantile = min(1.0, max(self.quantile, MIN_SEGMENT_USERS / len(rows)))
            bandwidth = float(estimate_bandwidth(rows, quantile=quantile,
                                                 random_state=self.random_state))
            bandwidth = max(bandwidth, 1e-3)
            self.why_.append(f"bandwidth={bandwidth:.4g} estimated at quantile "
                             f"{quantile:.3g} on {len(rows):,} users")
        centers = mean_shift_modes(X, bandwidth)
        sizes = np.bincount(pairwise_distances_argmin_min(X, centers)[0], minlength=len(centers))
        big = sizes >= max(1, _smallest_segment(self.min_share, len(X)))
        if not big.any():
            big = np.arange(len(sizes)) == np.argmax(sizes)
        if (~big).any():
            self.why_.append(f"{int((~big).sum())} modes with < {self.min_share:.0%} of users "
                             f"(at least {MIN_SEGMENT_USERS}) "
                             "merged into the nearest larger mode")
        centers = centers[big]
        labels = pairwise_distances_argmin_min(X, centers)[0]
        order = np.argsort(size_order(labels))
        self.cluster_centers_ = centers[order].astype(np.float32)
        self.n_segments_ = len(centers)
        self.resolved_params_.update(bandwidth=float(bandwidth), n_modes=int(len(sizes)))
        return self.predict(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        self._check_fitted("cluster_centers_")
        return pairwise_distances_argmin_min(np.asarray(X, dtype=np.float32),
                                             self.cluster_centers_)[0].astype(np.int32)

    def distance(self, X: np.ndarray) -> np.ndarray:
        return pairwise_distances_argmin_min(np.asarray(X, dtype=np.float32),
                                             self.cluster_centers_)[1]

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return self._state_params(), {"cluster_centers": self.cluster_centers_}

    @classmethod
    def from_state(cls, params: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
        self = cls._from_params(params)
        self.cluster_centers_ = np.asarray(arrays["cluster_centers"], dtype=np.float32)
        return self
