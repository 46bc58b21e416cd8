"""SegmentModel: the fitted cleaning plus the fitted clusterer, saved without pickle.

A model folder holds ``model.json`` (format name and version, parameters, decisions) and
``arrays.npz`` (numbers only, loaded with ``allow_pickle=False``), so opening a model file
from someone else cannot run code.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personae._version import __version__
from personae.cluster._base import MIN_SEGMENT_USERS
from personae.cluster.algorithms import algorithm_class, make_segmenter
from personae.cluster.auto import (
    AUTO_ROWS,
    CANDIDATES,
    AlgorithmChoice,
    candidates_for,
    choose_algorithm,
)
from personae.cluster.levels import assign_levels
from personae.cluster.search import KSelection
from personae.config import SegmentSettings, build
from personae.data.documents import document_text, read_document
from personae.data.readers import read_arrays
from personae.data.writers import staged_folder
from personae.errors import ConfigError, DataError, ModelFileError, NotFittedError
from personae.features.table import TablePreprocessor, detect_id_column, user_ids

log = logging.getLogger(__name__)

FORMAT = "personae.segment-model"
FORMAT_VERSION = 2  # 2: settings (was params), segments.json with persona names
READABLE_VERSIONS = (1, 2)
SEGMENTS_FORMAT = "personae.segments"
LEVELS_FORMAT = "personae.levels"
RFM_FORMAT = "personae.rfm"
DEFAULT_K_RANGE = (2, 10)
ORDER_ROWS = 200_000  # users put in id-hash order; every sample is a prefix of them
NOVELTY_ROWS = 20_000
NOVELTY_QUANTILE = 0.999
NOVELTY_MARGIN = 1.5


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
    """The fitted cleaning, the fitted segmenter and the novelty threshold: clean a user
    table, choose an algorithm and its parameters, cluster, and assign new users the same
    way (``predict`` gives every training user the label it got in ``fit``).

    Settings are a :class:`~personae.config.SegmentSettings` or its fields as keywords
    (validated at ``fit``). The model object keeps K-means as its default algorithm (the
    cheapest), while ``segment()`` and ``personae run`` default to ``"auto"``. The checks of
    a fit (consistency, stability) are the pipeline's, in ``personae.cluster.validate``.
    """

    def __init__(self, settings: SegmentSettings | None = None, /, **overrides: Any) -> None:
        self.settings = settings
        self.overrides = overrides

    # ------------------------------------------------------------------ fit
    def fit(self, df: pd.DataFrame, source: str = "input",
            ids: pd.Series | None = None) -> SegmentModel:
        self.fit_transform(df, source, ids)
        return self

    def fit_transform(self, df: pd.DataFrame, source: str = "input",
                      ids: pd.Series | None = None) -> np.ndarray:
        """Fit, and return the cleaned and scaled matrix of the training users (so the
        pipeline does not transform them twice). ``ids`` skips a second id check."""
        timings: dict[str, float] = {}
        started = time.perf_counter()
        defaults = {} if self.settings is not None else {"algorithm": "kmeans"}
        given = self.settings.model_dump() if self.settings is not None else {}
        self.settings_ = build(SegmentSettings, {**defaults, **given, **self.overrides},
                               "SegmentModel")
        cfg = self.settings_
        id_column = cfg.id_column if cfg.id_column is not None else \
            detect_id_column([str(c) for c in df.columns])
        if ids is None:
            ids = user_ids(df, id_column, source)
        self.id_column_ = id_column
        self.preprocessor_ = TablePreprocessor(
            features=cfg.features, categorical=cfg.categorical, id_column=id_column,
            impute=cfg.impute, log_transform=cfg.log_transform, scaler=cfg.scaler,
        ).fit(df, source)
        X = self.preprocessor_.transform(df, source)
        timings["preprocess"] = time.perf_counter() - started

        n_users = len(X)
        k_values = self._k_values(n_users, source)
        self.order_ = sample_rows(ids, min(n_users, ORDER_ROWS), cfg.random_state)
        started = time.perf_counter()
        name, params = self._choose_algorithm(X, self.order_, k_values)
        timings["choose_algorithm"] = time.perf_counter() - started

        started = time.perf_counter()
        log.info("fitting %s on %d users", name, n_users)
        self.segmenter_ = make_segmenter(name, **params).fit(X, sample=self.order_)
        self.labels_ = self.segmenter_.labels_
        self.n_clusters_ = int(self.segmenter_.n_segments_)
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
        reference = self.segmenter_.distance(X[self.order_[:NOVELTY_ROWS]])
        self.novelty_threshold_ = float(np.quantile(reference, NOVELTY_QUANTILE)
                                        * NOVELTY_MARGIN) if len(reference) else np.inf
        self.timings_ = timings
        self.n_users_ = n_users
        return X

    def _choose_algorithm(self, X: np.ndarray, order: np.ndarray,
                          k_values: list[int]) -> tuple[str, dict[str, Any]]:
        """The algorithm and its parameters: as given, or chosen by ``choose_algorithm``."""
        cfg = self.settings_
        n_clusters = k_values[0] if isinstance(cfg.k, int) else None
        k_range = (k_values[0], k_values[-1])
        blocks = categorical_blocks(self.preprocessor_)
        extra = {"kprototypes": {"categorical_blocks": blocks}}
        self.algorithm_choice_: AlgorithmChoice | None = None
        name = cfg.algorithm
        params = dict(cfg.params or {})
        if name == "auto":
            share = len(self.preprocessor_.categorical_) / max(
                self.preprocessor_.n_features_in_, 1)
            candidates = candidates_for(share) if blocks else CANDIDATES
            log.info("choosing among %s on %d users", ", ".join(candidates),
                     min(len(order), AUTO_ROWS))
            self.algorithm_choice_ = choose_algorithm(
                X[order[:AUTO_ROWS]], candidates=candidates, k_range=k_range,
                n_clusters=n_clusters, extra=extra, random_state=cfg.random_state,
                numeric_columns=np.arange(len(self.preprocessor_.numeric_)))
            name = self.algorithm_choice_.name
            # The winner keeps the K it found on the sample (no second K search).
            params.update(self.algorithm_choice_.params)
        cls = algorithm_class(name)
        if cls.uses_k:
            params.setdefault("n_clusters", n_clusters)
            params.setdefault("k_range", k_range)
        params.setdefault("random_state", cfg.random_state)
        params.update(extra.get(name, {}))
        return name, params

    def _k_values(self, n_users: int, source: str) -> list[int]:
        # A segment of a handful of users is no base for a persona, and the stability
        # check refits on half the users: every K tried leaves MIN_SEGMENT_USERS users per
        # segment on average.
        k = self.settings_.k
        if isinstance(k, int):
            if k * MIN_SEGMENT_USERS > n_users:
                raise DataError(f"K={k} needs at least {k * MIN_SEGMENT_USERS} users "
                                f"({MIN_SEGMENT_USERS} per segment); the input has {n_users}",
                                source=source)
            return [k]
        low, high = self.settings_.k_range
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
        if getattr(self, "levels_", None) is not None:
            return np.asarray(assign_levels(X, self.levels_)["persona"])
        return self.segmenter_.predict(X)

    def predict_natural(self, df: pd.DataFrame, source: str = "input") -> np.ndarray:
        """The algorithm's own partition (what ``--algorithm`` found), also when the model
        answers with persona levels."""
        return self.segmenter_.predict(self.transform(df, source))

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
        return self.novel_rows(self.transform(df, source))

    def novel_rows(self, X: np.ndarray) -> np.ndarray:
        """``is_novel`` for rows already cleaned and scaled (the training matrix)."""
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
    def save(self, folder: str | Path, segments: list[dict[str, Any]] | None = None,
             meanings: dict[str, Any] | None = None) -> Path:
        """Write the model folder; it appears complete or not at all. ``segments`` (id,
        persona name, size, share per segment) and the feature ``meanings`` the names were
        worded from go to segments.json, what a service answers with."""
        self._check_fitted()
        pre_params, pre_arrays = self.preprocessor_.to_state()
        seg_params, seg_arrays = self.segmenter_.to_state()
        document = {
            "personae_version": __version__,
            "settings": self.settings_.model_dump(mode="json"),
            "id_column": self.id_column_,
            "n_users": self.n_users_,
            "preprocessor": pre_params,
            "segmenter": {"algorithm": self.segmenter_.name, **seg_params},
            "novelty_threshold": self.novelty_threshold_,
        }
        arrays = {f"preprocessor.{k}": v for k, v in pre_arrays.items()}
        arrays.update({f"segmenter.{k}": v for k, v in seg_arrays.items()})
        with staged_folder(folder, marker="model.json") as staging:
            (staging / "model.json").write_text(document_text(document, FORMAT, FORMAT_VERSION),
                                                encoding="utf-8")
            np.savez(staging / "arrays.npz", **arrays)
            if getattr(self, "levels_", None) is not None:
                (staging / "levels.json").write_text(
                    document_text(self.levels_, LEVELS_FORMAT, 1), encoding="utf-8")
            if getattr(self, "rfm_", None) is not None:  # new users scored by the same cuts
                (staging / "rfm.json").write_text(
                    document_text(self.rfm_, RFM_FORMAT, 1), encoding="utf-8")
            if segments is not None:
                (staging / "segments.json").write_text(document_text(
                    {"segments": segments, "feature_meanings": meanings or {}},
                    SEGMENTS_FORMAT, 1), encoding="utf-8")
        return Path(folder)

    @classmethod
    def load(cls, folder: str | Path) -> SegmentModel:
        folder = Path(folder)
        document = _read_document(folder)
        arrays = read_arrays(folder / "arrays.npz", "model arrays")
        try:
            # format 1 called the settings "params"; the names are the same
            settings = document.get("settings", document.get("params"))
            model = cls(build(SegmentSettings, settings, str(folder / "model.json")))
            model.settings_ = model.settings
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
        model.segments_ = _read_segments(folder)
        # levels.json and rfm.json had no format before version 2 of the model folder
        levels = read_document(folder / "levels.json", LEVELS_FORMAT, (1,), required=False,
                               legacy=True)
        model.levels_ = None if levels is None else \
            {k: v for k, v in levels.items() if k not in ("format", "format_version")}
        if model.levels_ is not None:
            try:
                model.n_clusters_ = int(model.levels_["n_personas"])
            except (KeyError, TypeError, ValueError) as exc:
                raise ModelFileError(f"{folder / 'levels.json'}: no persona count "
                                     f"({exc.__class__.__name__}: {exc})") from None
        rfm = read_document(folder / "rfm.json", RFM_FORMAT, (1,), required=False,
                            legacy=True)
        model.rfm_ = None if rfm is None else \
            {k: v for k, v in rfm.items() if k not in ("format", "format_version")}
        return model


def categorical_blocks(preprocessor: TablePreprocessor) -> list[list[int]]:
    """``[start, stop)`` of each category's one-hot block in the preprocessed matrix."""
    blocks, position = [], len(preprocessor.numeric_)
    for name in sorted(preprocessor.categorical_):
        width = len(preprocessor.categorical_[name]) + 1
        blocks.append([position, position + width])
        position += width
    return blocks


def _read_segments(folder: Path) -> list[dict[str, Any]] | None:
    """segments.json's rows (segment, persona, size, share, facts), through the run
    folder's one reader of persona names; None when the model folder has none."""
    from personae.data.run_folder import read_segments

    if not (folder / "segments.json").is_file():
        return None
    return [s.as_dict() for s in read_segments(folder)]


def _prefixed(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}


def _read_document(folder: Path) -> dict[str, Any]:
    if not folder.is_dir():
        raise ModelFileError(f"{folder}: not a model folder (expected a folder with "
                             "model.json and arrays.npz)")
    document = read_document(folder / "model.json", FORMAT, READABLE_VERSIONS,
                             what=f"is {folder} a personae model folder?")
    assert document is not None  # required: read_document raised otherwise
    return document
