"""SegmentModel: every fitted rule of a run (cleaning, segmenter, persona levels, RFM cut
points, novelty) and the one ``assign`` that every caller uses; saved without pickle.

A model folder holds ``model.json`` (format name and version, parameters, decisions) and
``arrays.npz`` (numbers only, loaded with ``allow_pickle=False``), so opening a model file
from someone else cannot run code.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from personae.choose import choose, k_candidates, sample_rows
from personae.cluster._base import nearest_centre, threads_for
from personae.cluster.algorithms import make_segmenter
from personae.cluster.mixture import memberships_summary
from personae.config import SegmentSettings, build
from personae.data.model_folder import read_model_folder, write_model_folder
from personae.data.segments import persona_column
from personae.errors import ConfigError, DataError, NotFittedError
from personae.features.table import TablePreprocessor, detect_id_column, user_ids

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from personae.cluster.levels import LevelCentres
    from personae.cluster.levels.fit import LevelSearch, PersonaLevels
    from personae.cluster.search import KSelection

log = logging.getLogger(__name__)

FIT_BESIDE_LEVELS_BYTES = 256 * 2**20  # ~4M users x 15 features: see fit_cleaned

__all__ = ["SegmentModel", "sample_rows"]
# Algorithms whose segment is "the nearest of cluster_centers_" (Euclidean)
NEAREST_CENTRE = ("kmeans", "minibatch", "meanshift")


class SegmentModel:
    """The fitted cleaning, segmenter, persona levels, RFM cut points and novelty threshold:
    clean a user table, choose an algorithm and its parameters, cluster, and assign new users
    the same way. ``assign`` is the one way a user gets its labels (the pipeline, ``personae
    assign``, the service, monitor, uplift and Spark's executors all call it), so every
    training user gets from ``assign`` the labels it got in ``fit``.

    Settings are a :class:`~personae.config.SegmentSettings` or its fields as keywords
    (validated at ``fit``); the defaults are ``segment()``'s (``algorithm="auto"`` with persona
    levels). A scikit-learn estimator: ``get_params``/``set_params``, ``clone``,
    ``fit_predict``; ``predict`` takes a DataFrame, or an array once the model knows its input
    columns (``feature_names_in_``).
    """

    def __init__(self, settings: SegmentSettings | None = None, **overrides: Any) -> None:
        self.settings = settings
        self.overrides = overrides

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's keywords (scikit-learn's ``clone`` rebuilds the model from
        them)."""
        return {"settings": self.settings, **self.overrides}

    def set_params(self, **params: Any) -> SegmentModel:
        unknown = sorted(set(params) - {"settings", *SegmentSettings.model_fields})
        if unknown:
            raise ConfigError(f"SegmentModel.set_params: unknown setting {unknown[0]!r}; "
                              f"settings are {', '.join(SegmentSettings.model_fields)}")
        if "settings" in params:
            self.settings = params.pop("settings")
        self.overrides = {**self.overrides, **params}
        return self

    def __repr__(self) -> str:
        given = self.settings.model_dump(exclude_defaults=True) if self.settings else {}
        given.update(self.overrides)
        return f"SegmentModel({', '.join(f'{k}={v!r}' for k, v in given.items())})"

    # ------------------------------------------------------------------ fit
    def fit(self, df: pd.DataFrame, source: str = "input",
            ids: pd.Series | None = None) -> SegmentModel:
        self.fit_transform(df, source, ids)
        return self

    def fit_transform(self, df: pd.DataFrame, source: str = "input",
                      ids: pd.Series | None = None) -> np.ndarray:
        """Fit, and return the cleaned and scaled matrix of the training users (so the
        pipeline does not transform them twice). ``ids`` skips a second id check."""
        return self.fit_cleaned(df, source, ids)[1]

    def fit_cleaned(self, df: pd.DataFrame, source: str = "input",
                    ids: pd.Series | None = None, helper: Executor | None = None
                    ) -> tuple[pd.DataFrame, np.ndarray]:
        """Fit, and return the training users cleaned: in their own units (what the
        profiles describe, ``TablePreprocessor.clean``) and in the model's space.
        ``helper``: worker processes for ``auto``'s comparison (``comparison_helper``)."""
        timings: dict[str, float] = {}
        started = time.perf_counter()
        given = self.settings.model_dump() if self.settings is not None else {}
        self.settings_ = build(SegmentSettings, {**given, **self.overrides}, "SegmentModel")
        cfg = self.settings_
        id_column = cfg.id_column if cfg.id_column is not None else \
            detect_id_column([str(c) for c in df.columns], df)
        if ids is None:
            ids = user_ids(df, id_column, source)
        self.id_column_ = id_column
        self.levels_: dict[str, Any] | None = None
        self.rfm_: dict[str, Any] | None = None
        self.segments_: list[dict[str, Any]] | None = None
        self.preprocessor_ = TablePreprocessor(
            features=cfg.features, categorical=cfg.categorical, id_column=id_column,
            impute=cfg.impute, log_transform=cfg.log_transform, scaler=cfg.scaler,
        ).fit(df, source)
        n_users = len(df)
        k_values = k_candidates(cfg.k, cfg.k_range, n_users, source)
        self.order_ = sample_rows(ids, min(n_users, cfg.samples.order), cfg.random_state)
        auto = cfg.algorithm == "auto"
        # auto compares algorithms on a sample of users, transformed on its own (the same
        # rows of the model's matrix, bit for bit: the transform is row by row), so the
        # comparison starts before that matrix is built, and never reads it
        compared = self.preprocessor_.transform(df.iloc[self.order_[:cfg.auto.rows]], source) \
            if auto else None
        timings["preprocess"] = time.perf_counter() - started
        with ThreadPoolExecutor(2) as pool, threads_for(0):
            started = time.perf_counter()
            choosing = pool.submit(choose, cfg, compared, k_values, self.preprocessor_, helper) \
                if auto else None
            # the cleaned frame (float64, twice a float32 input) is not held through the
            # fit: at 10M users it was 1.2 GB of the run's peak; it is cleaned again for the
            # caller
            preprocessing = time.perf_counter()
            X = self.preprocessor_.scale(self.preprocessor_.clean(df, source))
            timings["preprocess"] += time.perf_counter() - preprocessing
            # The persona level reads X alone, never the base fit: it runs beside the
            # algorithm's choice, BLAS on one thread (so neither result depends on the
            # other's timing). Beside auto's comparison (seconds, much of it in Python
            # between compiled calls) it is also fitted on everyone; beside a named
            # algorithm only its K is searched, and everyone waits for all the cores.
            x_free = threading.Event()
            placing = pool.submit(self._place_levels, X, auto, x_free) if cfg.levels_on \
                else None
            if choosing is None:
                started = time.perf_counter()
            name, params, self.algorithm_choice_ = choosing.result() if choosing else \
                choose(cfg, X, k_values, self.preprocessor_)
            timings["choose_algorithm"] = time.perf_counter() - started
            # The algorithm's fit on everyone: beside the levels' last steps once X is
            # back from their K-means (which centres it in place); otherwise after them,
            # on all the cores (one thread beside a K search of a few seconds at most would
            # leave a core idle through a 10M-user fit). Not beside them for a big X: the
            # fit copies X, and at 10M users the copy beside the levels' arrays took the
            # run's peak from 3.8 to 4.07 GiB.
            beside = auto and placing is not None and X.nbytes <= FIT_BESIDE_LEVELS_BYTES
            if beside:
                x_free.wait()
                # in a worker thread: this thread's one-OpenMP-thread limit is its own
                fitting = pool.submit(self._fit_segmenter, X, name, params).result()
            placed, placing_seconds = placing.result() if placing else (None, 0.0)
        if not beside:
            fitting = self._fit_segmenter(X, name, params)
        self.natural_labels_ = self.segmenter_.labels_
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
        timings["cluster"] = fitting - (timings["choose_k"] if searched_here else 0.0)
        self.novelty_threshold_ = self._novelty_threshold(
            X[self.order_[:cfg.samples.novelty]])
        if cfg.levels_on:
            started = time.perf_counter()
            self._fit_levels(X, placed)
            # with the seconds it ran beside choose_algorithm
            timings["persona_levels"] = time.perf_counter() - started + placing_seconds
        if cfg.rfm:
            self._fit_rfm(df, source)
        self.timings_ = timings
        self.n_users_ = n_users
        self.assignments_ = self._assign(X, df, source)
        self.labels_ = self.assignments_["segment"].to_numpy()
        started = time.perf_counter()
        features = self.preprocessor_.clean(df, source)
        timings["preprocess"] += time.perf_counter() - started
        return features, X

    def fit_predict(self, df: pd.DataFrame, y: Any = None) -> np.ndarray:
        """``fit``, then the segment of every training user (what ``predict`` gives them)."""
        return self.fit(df).labels_

    def _novelty_threshold(self, X: np.ndarray) -> float:
        """A quantile of the users' distance to their segment (0.999), times a margin (1.5):
        ``settings.novelty``."""
        rules = self.settings_.novelty
        distance = self._nearest(X)[1]
        return float(np.quantile(distance, rules.quantile) * rules.margin) \
            if len(distance) else float("inf")

    def _place_levels(self, X: np.ndarray, on_everyone: bool, x_free: threading.Event
                      ) -> tuple[LevelSearch | PersonaLevels, float]:
        """What the persona level finds without the base fit, and its seconds: its K on a
        sample (``level_search``), and with ``on_everyone`` that K fitted on everyone
        (``place_personas``). ``x_free`` is set once nothing here changes X any more."""
        from personae.cluster.levels.fit import level_search, place_personas

        started = time.perf_counter()
        cfg = self.settings_
        k = cfg.k if isinstance(cfg.k, int) else None
        try:
            found: LevelSearch | PersonaLevels = level_search(
                X, k=k, random_state=cfg.random_state, rules=cfg.levels)
            if on_everyone:
                found = place_personas(X, k=k, random_state=cfg.random_state,
                                       rules=cfg.levels, search=found, x_free=x_free.set)
        finally:
            x_free.set()
        return found, time.perf_counter() - started

    def _fit_segmenter(self, X: np.ndarray, name: str, params: dict[str, Any]) -> float:
        """The chosen algorithm fitted on everyone (``segmenter_``): its seconds."""
        started = time.perf_counter()
        log.info("fitting %s on %d users", name, len(X))
        self.segmenter_ = make_segmenter(name, **params).fit(X, sample=self.order_)
        return time.perf_counter() - started

    def _fit_levels(self, X: np.ndarray, found: LevelSearch | PersonaLevels | None = None
                    ) -> None:
        """The persona level becomes the segments (nested in a broad level, with a detailed
        level); the algorithm's own partition stays as ``natural_labels_``."""
        from personae.cluster.levels.fit import LevelSearch, persona_levels

        cfg = self.settings_
        searched = isinstance(found, LevelSearch)
        levels = persona_levels(X, self.natural_labels_,
                                k=cfg.k if isinstance(cfg.k, int) else None,
                                random_state=cfg.random_state, rules=cfg.levels,
                                search=found if searched else None,
                                placed=None if searched else found)
        self.persona_levels_ = levels
        self.levels_ = levels.to_dict()
        self.n_clusters_ = levels.n_personas

    def _fit_rfm(self, df: pd.DataFrame, source: str) -> None:
        """The classic RFM cut points, when the table has recency, frequency (and value)."""
        from personae.profile.rfm import fit_rfm

        try:
            self.rfm_ = fit_rfm(df, source=source).to_dict()
        except (DataError, KeyError, ValueError) as exc:
            log.info("no RFM map: %s", exc)

    def refitted(self, sample: pd.DataFrame, *, segmenter: Any = None,
                 levels: dict[str, Any] | None = None, n_users: int | None = None
                 ) -> SegmentModel:
        """A copy of this fitted model whose segmenter or persona levels were refitted on
        more users elsewhere (Spark, over everyone). What depends on them is recomputed here,
        on ``sample`` (users of the fit): the novelty threshold and the sample's labels."""
        self._check_fitted()
        model = copy.copy(self)
        model.__dict__.pop("_level_centres", None)
        model.__dict__.pop("_centres", None)
        if segmenter is not None:
            model.segmenter_ = segmenter
            model.n_clusters_ = int(segmenter.n_segments_)
        if levels is not None:
            model.levels_ = levels
        if model.levels_ is not None:
            model.n_clusters_ = int(model.levels_["n_personas"])
        if n_users is not None:
            model.n_users_ = int(n_users)
        X = model.transform(sample, "sample")
        model.novelty_threshold_ = model._novelty_threshold(
            X[:model.settings_.samples.novelty])
        model.assignments_ = model._assign(X, sample, "sample")
        model.labels_ = model.assignments_["segment"].to_numpy()
        return model

    # --------------------------------------------------------------- assign
    def transform(self, df: pd.DataFrame | np.ndarray, source: str = "input") -> np.ndarray:
        self._check_fitted()
        return self.preprocessor_.transform(self._frame(df, source), source)

    def assign(self, df: pd.DataFrame | np.ndarray, source: str = "input") -> pd.DataFrame:
        """Every label a run writes, one row per row of ``df`` (a user table with the
        training columns): ``segment`` (-1 = edge user), ``persona`` (its name, when the
        model was saved with names), then as the model has them ``broad_segment``,
        ``natural_segment``, ``detailed_segment``, ``probability``..., ``novel``,
        ``level_1``..., ``rfm_score`` and ``rfm_segment``."""
        df = self._frame(df, source)
        return self._assign(self.transform(df, source), df, source)

    def assign_matrix(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """``assign`` for rows already cleaned and scaled (``transform``): the labels that
        come from the model's space (all but the RFM map and the names)."""
        self._check_fitted()
        seg = self.segmenter_
        natural, distance = self._nearest(X)
        columns: dict[str, np.ndarray] = {"segment": natural}
        if self.levels_ is not None:
            from personae.cluster.levels import assign_detailed, assign_levels

            placed = assign_levels(X, self._placing())
            persona = np.asarray(placed["persona"], dtype=np.int32)
            columns = {"segment": persona,
                       "broad_segment": np.asarray(placed["broad"], dtype=np.int32),
                       "natural_segment": natural}
            detailed = assign_detailed(X, persona, self.levels_)
            if detailed is not None:
                columns["detailed_segment"] = detailed
        if hasattr(seg, "predict_proba"):
            columns.update(memberships_summary(np.asarray(seg.predict_proba(X)),
                                               seg.mixed_threshold))
        columns["novel"] = np.asarray(distance > self.novelty_threshold_)
        if hasattr(seg, "predict_levels"):
            taxonomy_levels = np.asarray(seg.predict_levels(X))
            for j in range(taxonomy_levels.shape[1]):
                columns[f"level_{j + 1}"] = taxonomy_levels[:, j]
        return columns

    def _assign(self, X: np.ndarray, df: pd.DataFrame, source: str) -> pd.DataFrame:
        columns = self.assign_matrix(X)
        out = pd.DataFrame(columns)
        names = self.persona_names()
        if names:
            out.insert(1, "persona", persona_column(columns["segment"], names))
        if self.rfm_ is not None and set(self.rfm_columns) <= set(map(str, df.columns)):
            from personae.profile.rfm import RFMCuts, score_rfm

            scores = score_rfm(df, RFMCuts.from_dict(self.rfm_), source)
            out["rfm_score"] = scores["rfm_score"].to_numpy(dtype=object)
            out["rfm_segment"] = scores["rfm_segment"].to_numpy(dtype=object)
        forecaster = getattr(self, "forecaster_", None)
        if forecaster is not None and forecaster.reads(df.columns):
            forecasts = self.forecast(df.reset_index(drop=True))
            for column in forecasts.columns:
                out[column] = forecasts[column].to_numpy()
        return out

    def with_forecaster(self, forecaster: Any) -> SegmentModel:
        """This fitted model, owning ``forecaster`` (a fitted ``personae.forecast.Forecaster``
        of the same users): ``forecast`` and ``assign`` answer with it, ``save`` keeps it."""
        self._check_fitted()
        self.forecaster_ = forecaster
        return self

    def forecast(self, summaries: pd.DataFrame) -> pd.DataFrame:
        """Each row's ``p_alive``, ``expected_events``, ``expected_value`` (purchase logs)
        and ``at_risk`` from its repeat-event summaries (``personae.forecast.SUMMARY_COLUMNS``,
        one row per user, in days)."""
        forecaster = getattr(self, "forecaster_", None)
        if forecaster is None:
            raise NotFittedError("this model has no forecaster: forecasts are fitted by a run "
                                 "on an event log in which users come back")
        return forecaster.predict(summaries)

    @property
    def rfm_columns(self) -> list[str]:
        """The input columns the RFM map scores (none when the model has no RFM map)."""
        return [str(c) for c in (self.rfm_ or {}).get("columns", []) if c is not None]

    def persona_names(self) -> dict[int, str]:
        """segment -> persona name, as saved with the model (empty before names exist)."""
        return {int(s["segment"]): str(s["persona"]) for s in self.segments_ or []
                if s.get("persona")}

    def predict(self, df: pd.DataFrame | np.ndarray, source: str = "input") -> np.ndarray:
        """The segment of each row of ``df`` (``assign``'s ``segment``; -1 = edge user)."""
        return np.asarray(self.assign_matrix(self.transform(df, source))["segment"])

    def predict_natural(self, df: pd.DataFrame | np.ndarray, source: str = "input"
                        ) -> np.ndarray:
        """The algorithm's own partition (what ``--algorithm`` found), also when the model
        answers with persona levels."""
        return self._nearest(self.transform(df, source))[0]

    def predict_proba(self, df: pd.DataFrame | np.ndarray, source: str = "input"
                      ) -> np.ndarray:
        """Probability of every segment per user (Gaussian mixtures only)."""
        X = self.transform(df, source)
        if not hasattr(self.segmenter_, "predict_proba"):
            raise ConfigError(f"predict_proba needs soft segments (algorithm gmm); this model "
                              f"uses {self.segmenter_.name}")
        return np.asarray(self.segmenter_.predict_proba(X))

    def predict_levels(self, df: pd.DataFrame | np.ndarray, source: str = "input"
                       ) -> np.ndarray:
        """Nested labels ``(n, 3)``, coarse to fine: a taxonomy's level_1, level_2, level_3
        (hierarchical), or the persona levels' broad segment, persona and detailed segment
        (the persona again where there is no detailed level)."""
        columns = self.assign_matrix(self.transform(df, source))
        if "level_1" in columns:
            return np.column_stack([columns["level_1"], columns["level_2"],
                                    columns["level_3"]])
        if "broad_segment" in columns:
            return np.column_stack([columns["broad_segment"], columns["segment"],
                                    columns.get("detailed_segment", columns["segment"])])
        raise ConfigError(f"predict_levels needs nested levels (persona levels, or algorithm "
                          f"hierarchical); this model uses {self.segmenter_.name} alone")

    def is_novel(self, df: pd.DataFrame | np.ndarray, source: str = "input") -> np.ndarray:
        """True for users farther from every segment than almost all training users were
        (beyond the 99.9th percentile of training distances x 1.5)."""
        return self.novel_rows(self.transform(df, source))

    def novel_rows(self, X: np.ndarray) -> np.ndarray:
        """``is_novel`` for rows already cleaned and scaled (the training matrix)."""
        return np.asarray(self._nearest(X)[1] > self.novelty_threshold_)

    def _nearest(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The algorithm's segment of each row and the distance to it: centroid algorithms
        by ``nearest_centre`` (their float64 centres and norms kept once per model), the
        others by their own ``predict`` and ``distance``."""
        seg = self.segmenter_
        centres = getattr(seg, "cluster_centers_", None) if seg.name in NEAREST_CENTRE \
            else None
        if centres is None:
            return np.asarray(seg.predict(X), dtype=np.int32), np.asarray(seg.distance(X))
        cached = self.__dict__.get("_centres")
        if cached is None or cached[0] is not centres:  # once per model, not per request
            exact = np.asarray(centres, dtype=np.float64)
            cached = (centres, exact, np.einsum("ij,ij->i", exact, exact))
            self.__dict__["_centres"] = cached
        return nearest_centre(X, cached[1], cached[2])

    def _placing(self) -> LevelCentres:
        """The persona levels as arrays, prepared once per model (not per request)."""
        from personae.cluster.levels import LevelCentres

        cached = self.__dict__.get("_level_centres")
        if cached is None or cached[0] is not self.levels_:
            cached = (self.levels_, LevelCentres.from_info(self.levels_))
            self.__dict__["_level_centres"] = cached
        return cached[1]

    def _frame(self, df: pd.DataFrame | np.ndarray, source: str) -> pd.DataFrame:
        """A DataFrame as given; an array gets the input columns' names, in the order
        ``feature_names_in_`` lists them."""
        if isinstance(df, pd.DataFrame):
            return df
        self._check_fitted()
        array = np.asarray(df)
        names = self.feature_names_in_
        if array.ndim != 2 or array.shape[1] != len(names):
            raise DataError(f"expected an array of users x {len(names)} columns "
                            f"({', '.join(names)}); got shape {array.shape}", source=source)
        return pd.DataFrame(array, columns=names)

    @property
    def feature_names_in_(self) -> list[str]:
        """The input columns the model reads, in the order an array must give them."""
        self._check_fitted()
        pre = self.preprocessor_
        return [*pre.numeric_, *sorted(pre.categorical_)]

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
        persona name, size, share and key facts per segment) and the feature ``meanings``
        the names were worded from go to segments.json, what a service answers with."""
        self._check_fitted()
        return write_model_folder(self, Path(folder), segments, meanings)

    @classmethod
    def load(cls, folder: str | Path) -> SegmentModel:
        """A model folder written by ``save`` (``ModelFileError`` naming the file when it
        cannot be read)."""
        state = read_model_folder(Path(folder))
        model = cls(state.settings)
        model.settings_ = state.settings
        model.id_column_ = state.id_column
        model.n_users_ = state.n_users
        model.preprocessor_ = state.preprocessor
        model.segmenter_ = state.segmenter
        model.novelty_threshold_ = state.novelty_threshold
        model.segments_ = state.segments
        model.levels_ = state.levels
        model.rfm_ = state.rfm
        if state.forecast is not None:
            from personae.forecast import Forecaster

            model.forecaster_ = Forecaster.from_document(state.forecast,
                                                         str(Path(folder) / "forecast.json"))
        model.n_clusters_ = int(state.levels["n_personas"]) if state.levels is not None \
            else int(state.segmenter.n_segments_)
        return model
