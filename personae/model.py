"""SegmentModel: the fitted cleaning plus the fitted clusterer, saved without pickle.

A model folder holds ``model.json`` (format name and version, parameters, decisions) and
``arrays.npz`` (numbers only, loaded with ``allow_pickle=False``), so opening a model file
from someone else cannot run code.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personae._version import __version__
from personae.cluster._base import MIN_SEGMENT_USERS
from personae.cluster.algorithms import algorithm_class, algorithm_names, make_segmenter
from personae.cluster.auto import (
    AUTO_ROWS,
    CANDIDATES,
    AlgorithmChoice,
    candidates_for,
    choose_algorithm,
    fixed_params,
)
from personae.cluster.search import KSelection
from personae.cluster.validate import Stability, bootstrap_stability
from personae.errors import ConfigError, DataError, ModelFileError, NotFittedError
from personae.features.table import Impute, Scaler, TablePreprocessor, detect_id_column, user_ids

log = logging.getLogger(__name__)

FORMAT = "personae.segment-model"
FORMAT_VERSION = 1
DEFAULT_K_RANGE = (2, 10)
ORDER_ROWS = 200_000  # users put in id-hash order; every sample is a prefix of them
CONSISTENCY_ROWS = 100_000
NOVELTY_ROWS = 20_000
NOVELTY_QUANTILE = 0.999
NOVELTY_MARGIN = 1.5
STABILITY_ROWS = 3_000


def sample_rows(ids: pd.Series, size: int, random_state: int) -> np.ndarray:
    """Row positions of a sample chosen by a hash of each user's id, not by row position.

    The same users are drawn whatever the order of the rows, so a shuffled file gives the
    same segments.
    """
    key = f"personae{random_state:08d}"[-16:].rjust(16, "0")
    hashes = pd.util.hash_pandas_object(ids, index=False, hash_key=key).to_numpy()
    if size >= len(ids):
        return np.argsort(hashes, kind="stable")
    chosen = np.argpartition(hashes, size)[:size]
    return chosen[np.argsort(hashes[chosen], kind="stable")]


class SegmentModel:
    """Clean a user table, choose an algorithm and its parameters, cluster, and assign new
    users the same way (``predict`` gives every training user the label it got in ``fit``).

    ``algorithm`` is one of ``personae.cluster.algorithm_names()``; the model object keeps
    K-means as its default (the cheapest, and what saved models had), while ``segment()``
    and ``personae run`` default to ``"auto"``.
    """

    def __init__(
        self,
        *,
        k: int | str = "auto",
        k_range: tuple[int, int] = DEFAULT_K_RANGE,
        features: list[str] | None = None,
        categorical: list[str] | None = None,
        id_column: str | None = None,
        impute: Impute = "median",
        log_transform: bool = True,
        scaler: Scaler = "standard",
        algorithm: str = "kmeans",
        params: dict[str, Any] | None = None,
        stability: bool = True,
        random_state: int = 0,
    ) -> None:
        self.k = k
        self.k_range = k_range
        self.features = features
        self.categorical = categorical
        self.id_column = id_column
        self.impute = impute
        self.log_transform = log_transform
        self.scaler = scaler
        self.algorithm = algorithm
        self.params = params
        self.stability = stability
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def fit(self, df: pd.DataFrame, source: str = "input") -> SegmentModel:
        timings: dict[str, float] = {}
        started = time.perf_counter()
        self._check_params()
        id_column = self.id_column if self.id_column is not None else \
            detect_id_column([str(c) for c in df.columns])
        ids = user_ids(df, id_column, source)
        self.id_column_ = id_column
        self.preprocessor_ = TablePreprocessor(
            features=self.features, categorical=self.categorical, id_column=id_column,
            impute=self.impute, log_transform=self.log_transform, scaler=self.scaler,
        ).fit(df, source)
        X = self.preprocessor_.transform(df, source)
        timings["preprocess"] = time.perf_counter() - started

        n_users = len(X)
        k_values = self._k_values(n_users, source)
        order = sample_rows(ids, min(n_users, ORDER_ROWS), self.random_state)
        started = time.perf_counter()
        name, params = self._choose_algorithm(X, order, k_values)
        timings["choose_algorithm"] = time.perf_counter() - started

        started = time.perf_counter()
        log.info("fitting %s on %d users", name, n_users)
        self.segmenter_ = make_segmenter(name, **params).fit(X, sample=order)
        self.labels_ = self.segmenter_.labels_
        self.n_clusters_ = int(self.segmenter_.n_segments_)
        sizes = np.bincount(self.labels_[self.labels_ >= 0], minlength=self.n_clusters_)
        tiny = [int(s) for s in np.flatnonzero(sizes < MIN_SEGMENT_USERS)]
        if tiny:
            note = (f"segment {', '.join(map(str, tiny))} "
                    f"{'has' if len(tiny) == 1 else 'have'} fewer than {MIN_SEGMENT_USERS} users "
                    f"({', '.join(str(int(sizes[s])) for s in tiny)}): outliers rather than a "
                    "persona; a density method (hdbscan, dbscan) keeps such users apart as edge "
                    "users")
            log.warning(note)
            self.segmenter_.why_.append(note)
        selection = getattr(self.segmenter_, "k_selection_", None)
        if selection is None and self.algorithm_choice_ is not None:
            selection = self.algorithm_choice_.k_selection
        self.k_selection_: KSelection | None = selection
        # The K search runs inside the segmenter's fit: count its seconds once, under
        # choose_k, not again under cluster. (With auto it ran in choose_algorithm, which
        # then includes it.)
        searched_here = getattr(self.segmenter_, "k_selection_", None) is not None
        timings["choose_k"] = selection.seconds if selection is not None else 0.0
        timings["cluster"] = time.perf_counter() - started - (
            timings["choose_k"] if searched_here else 0.0)

        started = time.perf_counter()
        check = order[:CONSISTENCY_ROWS]
        self.consistency_ = {
            "fit_predict_agreement": float(np.mean(
                _reloaded(self.segmenter_).predict(X[check]) == self.labels_[check])),
            "checked_users": int(len(check)),
            "solver_agreement": float(self.segmenter_.solver_agreement_),
            "how": "labels of training users re-predicted by the saved (JSON + npz) "
                   "segmenter vs their fit labels; solver_agreement = share of the solver's "
                   f"own labels on its {self.segmenter_.n_fit_rows_:,} fitted users kept by "
                   "the label extension (fit labels are the extension's labels)",
        }
        reference = self.segmenter_.distance(X[order[:NOVELTY_ROWS]])
        self.novelty_threshold_ = float(np.quantile(reference, NOVELTY_QUANTILE)
                                        * NOVELTY_MARGIN) if len(reference) else np.inf
        timings["consistency"] = time.perf_counter() - started

        started = time.perf_counter()
        self.stability_: Stability | None = None
        if self.stability:
            rows = order[:STABILITY_ROWS]
            fixed = fixed_params(self.segmenter_)
            try:
                self.stability_ = bootstrap_stability(
                    lambda Xs: make_segmenter(name, **fixed).fit(Xs), X[rows],
                    self.labels_[rows], random_state=self.random_state,
                    segments=range(self.n_clusters_))
            except ConfigError as exc:  # the parameters do not fit a half-size subsample
                log.warning("stability not measured: a refit on half the users failed (%s)",
                            exc)
                self.stability_ = None
        timings["stability"] = time.perf_counter() - started
        self.timings_ = timings
        self.n_users_ = n_users
        return self

    def _choose_algorithm(self, X: np.ndarray, order: np.ndarray,
                          k_values: list[int]) -> tuple[str, dict[str, Any]]:
        """The algorithm and its parameters: as given, or chosen by ``choose_algorithm``."""
        n_clusters = k_values[0] if isinstance(self.k, int) else None
        k_range = (k_values[0], k_values[-1])
        blocks = categorical_blocks(self.preprocessor_)
        extra = {"kprototypes": {"categorical_blocks": blocks}}
        self.algorithm_choice_: AlgorithmChoice | None = None
        name = self.algorithm
        params = dict(self.params or {})
        if name == "auto":
            share = len(self.preprocessor_.categorical_) / max(
                self.preprocessor_.n_features_in_, 1)
            candidates = candidates_for(share) if blocks else CANDIDATES
            log.info("choosing among %s on %d users", ", ".join(candidates),
                     min(len(order), AUTO_ROWS))
            self.algorithm_choice_ = choose_algorithm(
                X[order[:AUTO_ROWS]], candidates=candidates, k_range=k_range,
                n_clusters=n_clusters, extra=extra, random_state=self.random_state,
                numeric_columns=np.arange(len(self.preprocessor_.numeric_)))
            name = self.algorithm_choice_.name
            # The winner keeps the K it found on the sample (no second K search).
            params.update(self.algorithm_choice_.params)
        cls = algorithm_class(name)
        if cls.uses_k:
            params.setdefault("n_clusters", n_clusters)
            params.setdefault("k_range", k_range)
        params.setdefault("random_state", self.random_state)
        params.update(extra.get(name, {}))
        return name, params

    def _check_params(self) -> None:
        low, high = self.k_range
        if not (isinstance(low, int) and isinstance(high, int)) or low < 2 or high < low:
            raise ConfigError(f"k_range must be two ints with 2 <= low <= high; "
                              f"got {self.k_range!r}")
        if self.k != "auto" and (isinstance(self.k, bool) or not isinstance(self.k, int)):
            raise ConfigError(f"k must be 'auto' or an int >= 2; got {self.k!r}")
        if isinstance(self.k, int) and self.k < 2:
            raise ConfigError(f"k must be at least 2 (one segment is everyone); got {self.k}")
        if self.algorithm == "auto":
            if self.params:
                raise ConfigError("params need a named algorithm (auto chooses its own "
                                  f"parameters); choose one of {', '.join(algorithm_names())}")
            return
        cls = algorithm_class(self.algorithm)
        if isinstance(self.k, int) and not cls.uses_k:
            with_k = [n for n in algorithm_names() if n != "auto" and algorithm_class(n).uses_k]
            raise ConfigError(f"k={self.k} does not apply to {self.algorithm}, which finds the "
                              f"number of segments itself; k applies to {', '.join(with_k)}")
        if self.params is not None and not isinstance(self.params, dict):
            raise ConfigError(f"params must be a dict of parameter names to values; "
                              f"got {self.params!r}")
        probe = cls(**(self.params or {}))
        probe._validate()

    def _k_values(self, n_users: int, source: str) -> list[int]:
        # A segment of a handful of users is no base for a persona, and the stability
        # check refits on half the users: every K tried leaves MIN_SEGMENT_USERS users per
        # segment on average.
        if isinstance(self.k, int):
            if self.k * MIN_SEGMENT_USERS > n_users:
                raise DataError(f"K={self.k} needs at least {self.k * MIN_SEGMENT_USERS} users "
                                f"({MIN_SEGMENT_USERS} per segment); the input has {n_users}",
                                source=source)
            return [self.k]
        low, high = self.k_range
        if low * MIN_SEGMENT_USERS > n_users:
            raise DataError(f"{n_users} users are too few to segment: {low} segments of at "
                            f"least {MIN_SEGMENT_USERS} users need {low * MIN_SEGMENT_USERS}",
                            source=source)
        return list(range(low, min(high, n_users // MIN_SEGMENT_USERS) + 1))

    # -------------------------------------------------------------- predict
    def transform(self, df: pd.DataFrame, source: str = "input") -> np.ndarray:
        self._check_fitted()
        return self.preprocessor_.transform(df, source)

    def predict(self, df: pd.DataFrame, source: str = "input") -> np.ndarray:
        """The segment of each row of ``df`` (a user table with the training columns);
        ``-1`` = edge user (density algorithms)."""
        X = self.transform(df, source)
        return self.segmenter_.predict(X)

    def predict_proba(self, df: pd.DataFrame, source: str = "input") -> np.ndarray:
        """Probability of every segment per user (Gaussian mixtures only)."""
        X = self.transform(df, source)
        if not hasattr(self.segmenter_, "predict_proba"):
            raise ConfigError(f"predict_proba needs soft segments (algorithm gmm); this model "
                              f"uses {self.segmenter_.name}")
        return np.asarray(self.segmenter_.predict_proba(X))

    def predict_levels(self, df: pd.DataFrame, source: str = "input") -> np.ndarray:
        """Nested labels ``(n, 3)``: level_1, level_2, level_3 (hierarchical only)."""
        X = self.transform(df, source)
        if not hasattr(self.segmenter_, "predict_levels"):
            raise ConfigError(f"predict_levels needs a taxonomy (algorithm hierarchical); this "
                              f"model uses {self.segmenter_.name}")
        return np.asarray(self.segmenter_.predict_levels(X))

    def is_novel(self, df: pd.DataFrame, source: str = "input") -> np.ndarray:
        """True for users farther from every segment than almost all training users were
        (beyond the 99.9th percentile of training distances x 1.5)."""
        X = self.transform(df, source)
        return np.asarray(self.segmenter_.distance(X) > self.novelty_threshold_)

    @property
    def feature_names(self) -> list[str]:
        self._check_fitted()
        return list(self.preprocessor_.feature_names_)

    def _check_fitted(self) -> None:
        if not hasattr(self, "segmenter_"):
            raise NotFittedError("this SegmentModel is not fitted yet; call fit(df) first "
                                 "or SegmentModel.load(folder)")

    # ---------------------------------------------------------- persistence
    def save(self, folder: str | Path) -> Path:
        """Write the model folder; it appears complete or not at all."""
        self._check_fitted()
        folder = Path(folder)
        pre_params, pre_arrays = self.preprocessor_.to_state()
        seg_params, seg_arrays = self.segmenter_.to_state()
        document = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "personae_version": __version__,
            "params": {"k": self.k, "k_range": list(self.k_range), "features": self.features,
                       "categorical": self.categorical, "id_column": self.id_column, "impute": self.impute,
                       "log_transform": self.log_transform, "scaler": self.scaler,
                       "algorithm": self.algorithm, "params": self.params,
                       "stability": self.stability, "random_state": self.random_state},
            "id_column": self.id_column_,
            "n_users": self.n_users_,
            "preprocessor": pre_params,
            "segmenter": {"algorithm": self.segmenter_.name, **seg_params},
            "novelty_threshold": self.novelty_threshold_,
        }
        arrays = {f"preprocessor.{k}": v for k, v in pre_arrays.items()}
        arrays.update({f"segmenter.{k}": v for k, v in seg_arrays.items()})
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            (staging / "model.json").write_text(json.dumps(document, indent=2,
                                                           default=_plain),
                                                encoding="utf-8")
            np.savez(staging / "arrays.npz", **arrays)
            if folder.exists():
                shutil.rmtree(folder)
            staging.rename(folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> SegmentModel:
        folder = Path(folder)
        document = _read_document(folder)
        try:
            with np.load(folder / "arrays.npz", allow_pickle=False) as loaded:
                arrays = {name: loaded[name] for name in loaded.files}
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise ModelFileError(f"{folder / 'arrays.npz'}: cannot read the model arrays "
                                 f"({exc.__class__.__name__})") from None
        try:
            params = document["params"]
            model = cls(**{**params, "k_range": tuple(params["k_range"])})
            model.id_column_ = document["id_column"]
            model.n_users_ = int(document["n_users"])
            model.preprocessor_ = TablePreprocessor.from_state(
                document["preprocessor"], _prefixed(arrays, "preprocessor."))
            seg = dict(document["segmenter"])
            segmenter_class = algorithm_class(seg.pop("algorithm"))
            model.segmenter_ = segmenter_class.from_state(seg, _prefixed(arrays, "segmenter."))
            model.n_clusters_ = int(model.segmenter_.n_segments_)
            model.novelty_threshold_ = float(document["novelty_threshold"])
        except (KeyError, TypeError, ValueError, ConfigError) as exc:
            raise ModelFileError(f"{folder / 'model.json'}: incomplete or inconsistent model "
                                 f"({exc.__class__.__name__}: {exc})") from None
        return model


def categorical_blocks(preprocessor: TablePreprocessor) -> list[list[int]]:
    """``[start, stop)`` of each category's one-hot block in the preprocessed matrix."""
    blocks, position = [], len(preprocessor.numeric_)
    for name in sorted(preprocessor.categorical_):
        width = len(preprocessor.categorical_[name]) + 1
        blocks.append([position, position + width])
        position += width
    return blocks


def _reloaded(segmenter: Any) -> Any:
    """The segmenter as a saved model would rebuild it: JSON parameters + arrays."""
    params, arrays = segmenter.to_state()
    params = json.loads(json.dumps(params, default=_plain))
    return type(segmenter).from_state(params, {k: np.array(v) for k, v in arrays.items()})


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _prefixed(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}


def _read_document(folder: Path) -> dict[str, Any]:
    path = folder / "model.json"
    if not folder.is_dir():
        raise ModelFileError(f"{folder}: not a model folder (expected a folder with "
                             "model.json and arrays.npz)")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFileError(f"{path}: missing; is {folder} a personae model folder?") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a personae segment model (format "
                             f"{document.get('format') if isinstance(document, dict) else None!r})")
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(f"{path}: model format version {version!r} is not supported by "
                             f"personae {__version__} (reads version {FORMAT_VERSION})")
    return document
