"""What every segmenter shares: a declared parameter table, sampling, label extension.

The contract (see ``algorithms.py`` for the registry):

- ``__init__`` only stores keyword parameters.
- ``fit(X, sample=None)`` checks the parameters against ``PARAMS`` (a ``ConfigError`` names
  the parameter, what is allowed and what was received), fits the solver on a sample of rows
  when the method is O(n^2) (``sample`` = row positions chosen by the caller, else a seeded
  draw of ``sample_size`` rows), records every automatic value in ``resolved_params_`` and
  why in ``why_``, then labels *every* user through ``predict``: the labels of a fit are the
  labels ``predict`` gives, by construction. ``solver_agreement_`` says how often the
  solver's own sample labels survived that extension.
- Segments are numbered by size, largest first; ``-1`` is "edge users" (density noise).
- ``to_state()`` / ``from_state()``: JSON parameters + numpy arrays, never pickle.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from personae.errors import ConfigError, NotFittedError

if TYPE_CHECKING:
    from threadpoolctl import ThreadpoolController, threadpool_limits

NOISE = -1
# Users (a search's or a level's sample): OpenMP's and BLAS's threads cost more than they give
# there (spin-waits); on a busy machine they made a 1,500-user fit 20x slower and gmm's BIC
# search on 5,000 users 20x slower.
ONE_THREAD_BELOW = 20_000
# Fewer users than this are no segment to build a persona on (and half of them is what a
# stability refit sees).
MIN_SEGMENT_USERS = 5


@dataclass(frozen=True)
class Param:
    """One row of a parameter table: type, range or choices, whether None means automatic."""

    kind: type
    default: Any = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple[Any, ...] | None = None
    auto: bool = False
    help: str = ""

    def allowed(self) -> str:
        if self.choices is not None:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        elif self.kind is bool:
            text = "a bool"
        elif self.kind is list:
            text = "a list"
        elif self.kind is tuple:
            text = "a pair of ints (low, high) with 2 <= low <= high, e.g. 2..10"
        else:
            low = "-inf" if self.low is None else f"{self.low:g}"
            high = "inf" if self.high is None else f"{self.high:g}"
            bracket = "(" if self.low_open or self.low is None else "["
            close = "]" if self.high is not None else ")"
            article = "an" if self.kind is int else "a"
            text = f"{article} {self.kind.__name__} in the range {bracket}{low}, {high}{close}"
        return text + (" or None (automatic)" if self.auto else "")

    def check(self, owner: str, name: str, value: Any) -> None:
        ok = True
        if value is None:
            ok = self.auto
        elif self.choices is not None:
            ok = value in self.choices
        elif self.kind is bool:
            ok = isinstance(value, bool)
        elif self.kind is tuple:
            ok = isinstance(value, (tuple, list)) and len(value) == 2 and all(
                isinstance(v, int) and not isinstance(v, bool) for v in value) \
                and 2 <= value[0] <= value[1]
        elif self.kind is int:
            ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
        elif self.kind is float:
            ok = isinstance(value, (int, float, np.number)) and not isinstance(value, bool) \
                and math.isfinite(float(value))
        else:
            ok = isinstance(value, self.kind)
        if ok and value is not None and self.kind in (int, float) and self.choices is None:
            number = float(value)
            if self.low is not None and (number < self.low or
                                         (self.low_open and number == self.low)):
                ok = False
            if self.high is not None and number > self.high:
                ok = False
        if not ok:
            raise ConfigError(f"The {name!r} parameter of {owner} must be {self.allowed()}. "
                              f"Got {value!r} instead.")

    def parse(self, owner: str, name: str, text: str) -> Any:
        """A value typed on the command line (``--param eps=0.4``) -> the declared type."""
        clean = text.strip()
        if self.auto and clean.lower() in ("auto", "none"):
            return None
        try:
            if self.kind is bool:
                if clean.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError
                return clean.lower() in ("true", "1", "yes")
            if self.kind is tuple:
                low, _, high = clean.replace(":", "..").partition("..")
                return (int(low), int(high))
            if self.kind is int:
                return int(clean)
            if self.kind is float:
                return float(clean)
        except ValueError:
            raise ConfigError(f"The {name!r} parameter of {owner} must be {self.allowed()}. "
                              f"Got {text!r} instead.") from None
        return clean


COMMON: dict[str, Param] = {
    "random_state": Param(int, 0, help="seed of every random step"),
}


K_SEARCH_ROWS = 20_000


def threads_for(n_rows: int, user_api: str | None = None) -> threadpool_limits:
    """``with threads_for(len(X)):`` one thread for a fit on a sample of users
    (``ONE_THREAD_BELOW``), the libraries' own thread count above it."""
    return _controller().limit(limits=1 if n_rows <= ONE_THREAD_BELOW else None,
                               user_api=user_api)


def each_in_threads(work: Callable[..., Any], arguments: list[tuple[Any, ...]],
                    workers: int | None = None) -> list[Any]:
    """``[work(*a) for a in arguments]``, side by side in threads (default: one per core),
    BLAS on one thread. For independent fits on samples of users: they spend their time in
    compiled code that releases the GIL, where a spawned worker process would pay seconds
    to start and import scikit-learn. The limit is set once around all of them, as limits
    set inside the threads would restore each other's out of order. It is BLAS's, which is
    process-wide; OpenMP's limit is per thread (libgomp), so it binds the calling thread
    only, and a worker's OpenMP code runs on the library's own thread count."""
    from joblib import Parallel, cpu_count, delayed

    workers = min(len(arguments), workers or cpu_count())
    with threads_for(0):
        if workers <= 1:
            return [work(*a) for a in arguments]
        return list(Parallel(n_jobs=workers, prefer="threads")(
            delayed(work)(*a) for a in arguments))


NEAREST_CHUNK = 65_536  # rows per float64 pass: 8 MB of a 15-feature matrix


def nearest_centre(X: np.ndarray, centres: np.ndarray, norms: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Each row's nearest centre and the Euclidean distance to it: the one rule every
    centroid assignment uses (segments, persona levels, detailed groups). One float64
    numpy pass per chunk of rows: a user is placed by the same arithmetic in a request of
    one or a run of millions (distances agree to ~1e-15: BLAS sums a product of another
    shape in another order), a request of one user pays no scikit-learn checks, and a
    10M-user run no float64 copy of its matrix. ``norms``: the float64 centres' squared
    norms, when a caller keeps them (a service answering one user at a time)."""
    centres = np.asarray(centres, dtype=np.float64)
    if norms is None:
        norms = np.einsum("ij,ij->i", centres, centres)
    labels = np.empty(len(X), dtype=np.int32)
    distance = np.empty(len(X), dtype=np.float64)
    for start in range(0, len(X), NEAREST_CHUNK):
        part = np.asarray(X[start:start + NEAREST_CHUNK], dtype=np.float64)
        d2 = np.einsum("ij,ij->i", part, part)[:, None] - 2.0 * (part @ centres.T) \
            + norms[None, :]
        closest = d2.argmin(axis=1)
        labels[start:start + len(part)] = closest
        distance[start:start + len(part)] = np.sqrt(np.maximum(
            d2[np.arange(len(part)), closest], 0.0))
    return labels, distance


@cache
def _controller() -> ThreadpoolController:
    """The thread pools of the loaded BLAS and OpenMP libraries, found once: a fresh
    ``threadpool_limits`` walks every loaded library (7 ms), and a 1M-user run sets a limit
    a hundred times. Found after scikit-learn is imported, which loads them all."""
    import sklearn.cluster  # noqa: F401  (its OpenMP runtime, scipy's and numpy's BLAS)
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


K_PARAMS: dict[str, Param] = {
    "n_clusters": Param(int, None, low=2, auto=True, help="number of segments"),
    "k_range": Param(tuple, (2, 10), help="K searched when n_clusters is automatic"),
}


def size_order(labels: np.ndarray) -> np.ndarray:
    """``mapping[old] = new``: segments renumbered by size, largest first (ties by old id)."""
    clustered = labels[labels >= 0]
    n = int(clustered.max()) + 1 if clustered.size else 0
    return order_by_size(np.bincount(clustered, minlength=n))


def order_by_size(sizes: np.ndarray) -> np.ndarray:
    """``mapping[old] = new`` from each segment's size (``sizes[old]``), largest first, ties
    by old id."""
    n = len(sizes)
    mapping = np.empty(n, dtype=np.int32)
    mapping[np.lexsort((np.arange(n), -np.asarray(sizes)))] = np.arange(n, dtype=np.int32)
    return mapping


def relabel(labels: np.ndarray, mapping: np.ndarray) -> np.ndarray:
    out = np.full(len(labels), NOISE, dtype=np.int32)
    keep = labels >= 0
    out[keep] = mapping[labels[keep]]
    return out


class Segmenter:
    """Base class: parameter storage, validation, sampling, fit-through-predict."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    PARAMS: ClassVar[dict[str, Param]] = {}
    uses_k: ClassVar[bool] = False
    finds_noise: ClassVar[bool] = False
    default_sample: ClassVar[int | None] = None

    def __init__(self, **params: Any) -> None:
        table = self.param_table()
        unknown = sorted(set(params) - set(table))
        if unknown:
            raise ConfigError(f"{self.name} has no parameter {unknown[0]!r}; its parameters "
                              f"are {', '.join(sorted(table))}")
        for key, spec in table.items():
            setattr(self, key, params.get(key, spec.default))

    @classmethod
    def param_table(cls) -> dict[str, Param]:
        table = {**COMMON, **cls.PARAMS}
        if cls.default_sample is not None:
            table["sample_size"] = Param(int, cls.default_sample, low=50,
                                         help="users the solver is fitted on")
        return table

    def get_params(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.param_table()}

    def _validate(self) -> None:
        for key, spec in self.param_table().items():
            spec.check(self.name, key, getattr(self, key))

    # ------------------------------------------------------------------ fit
    def fit(self, X: np.ndarray, sample: np.ndarray | None = None) -> Segmenter:
        self._validate()
        X = np.ascontiguousarray(X, dtype=np.float32)
        if len(X) < 2:
            raise ConfigError(f"{self.name} needs at least 2 users; got {len(X)}")
        rows = self._sample(len(X), sample)
        # Where a search inside _fit should look: the caller's sample (positions in X), or
        # the fitted sample itself (already in the caller's order), or a seeded draw.
        self._hint: np.ndarray | None = None
        self._ordered = sample is not None
        if rows is None and sample is not None:
            self._hint = np.asarray(sample)
        X_fit = X if rows is None else X[rows]
        self.resolved_params_: dict[str, Any] = self.get_params()
        self.why_: list[str] = []
        raw = self._fit(X_fit)
        self.n_fit_rows_ = len(X_fit)
        if rows is not None:
            self.why_.append(f"fitted on a sample of {len(X_fit):,} of {len(X):,} users; "
                             "the others were labelled by predict")
        extended = self.predict(X_fit)
        self.solver_agreement_ = float(np.mean(extended == raw)) if raw is not None else 1.0
        self.labels_ = extended if rows is None else self.predict(X)
        return self

    def _sample(self, n: int, sample: np.ndarray | None) -> np.ndarray | None:
        size = getattr(self, "sample_size", None)
        if size is None or n <= size:
            return None
        if sample is not None:
            return np.asarray(sample)[:size]
        rng = np.random.default_rng(self.random_state)  # type: ignore[attr-defined]
        return np.sort(rng.choice(n, size=size, replace=False))

    def _search_rows(self, n: int, size: int) -> np.ndarray:
        """Rows for a search on at most ``size`` users: the caller's sample when it gave one
        (chosen by user id, so row order does not matter), else a seeded draw."""
        hint = getattr(self, "_hint", None)
        if hint is not None:
            return hint[:size]
        if n <= size or getattr(self, "_ordered", False):
            return np.arange(min(n, size))
        rng = np.random.default_rng(self.random_state)  # type: ignore[attr-defined]
        return np.sort(rng.choice(n, size=size, replace=False))

    def _fit(self, X: np.ndarray) -> np.ndarray | None:
        """Fit the solver on ``X``; return its own labels (renumbered by size) or None."""
        raise NotImplementedError

    def predict(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def distance(self, X: np.ndarray) -> np.ndarray:
        """Distance of each user to the nearest segment (for the 'novel' flag)."""
        raise NotImplementedError

    def _check_fitted(self, attribute: str) -> None:
        if not hasattr(self, attribute):
            raise NotFittedError(f"{type(self).__name__}.predict called before fit")

    @property
    def n_clusters_(self) -> int:
        return int(self.n_segments_)  # type: ignore[attr-defined]

    # ---------------------------------------------------------- persistence
    def _state_params(self) -> dict[str, Any]:
        return {"params": self.get_params(), "resolved": self.resolved_params_,
                "why": self.why_, "n_segments": int(self.n_segments_),  # type: ignore
                "solver_agreement": self.solver_agreement_, "n_fit_rows": self.n_fit_rows_}

    def _restore(self, params: dict[str, Any]) -> None:
        self.resolved_params_ = dict(params["resolved"])
        self.why_ = list(params["why"])
        self.n_segments_ = int(params["n_segments"])
        self.solver_agreement_ = float(params["solver_agreement"])
        self.n_fit_rows_ = int(params["n_fit_rows"])

    @classmethod
    def _from_params(cls, params: dict[str, Any]) -> Any:
        saved = dict(params["params"])
        if "k_range" in saved and saved["k_range"] is not None:
            saved["k_range"] = tuple(saved["k_range"])
        self = cls(**saved)
        self._restore(params)
        return self


class NearestSampleMixin:
    """Label extension by the nearest fitted sample point (1-NN), optionally with a radius."""

    points_: np.ndarray
    point_labels_: np.ndarray

    def _nearest(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from sklearn.metrics import pairwise_distances_argmin_min

        X = np.asarray(X, dtype=np.float32)
        index, dist = pairwise_distances_argmin_min(X, self.points_)
        return index, dist

    def distance(self, X: np.ndarray) -> np.ndarray:
        from sklearn.metrics import pairwise_distances_argmin_min

        keep = self.point_labels_ >= 0
        if not keep.any():
            return np.zeros(len(X))
        _, dist = pairwise_distances_argmin_min(np.asarray(X, dtype=np.float32),
                                                self.points_[keep])
        return dist


def fixed_params(seg: Any) -> dict[str, Any]:
    """The fitted segmenter's parameters with every automatic value filled in."""
    table = type(seg).param_table()
    return {k: v for k, v in seg.resolved_params_.items() if k in table}


def chord_gaps(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kneedle for an increasing convex curve: how far each point lies below the chord from
    its first to its last point, both axes scaled to [0, 1]. The knee is the largest gap."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    return (x - x[0]) / (x[-1] - x[0]) - (y - y[0]) / (y[-1] - y[0])
