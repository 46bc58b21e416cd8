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
from personae.cluster.algorithms import algorithm_class
from personae.cluster.search import SEARCH_ROWS, KSelection, choose_k
from personae.errors import ConfigError, DataError, ModelFileError, NotFittedError
from personae.features.table import Impute, Scaler, TablePreprocessor, detect_id_column, user_ids

log = logging.getLogger(__name__)

FORMAT = "personae.segment-model"
FORMAT_VERSION = 1
DEFAULT_K_RANGE = (2, 10)


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
    """Clean a user table, choose K, cluster, and assign new users the same way."""

    def __init__(
        self,
        *,
        k: int | str = "auto",
        k_range: tuple[int, int] = DEFAULT_K_RANGE,
        features: list[str] | None = None,
        id_column: str | None = None,
        impute: Impute = "median",
        log_transform: bool = True,
        scaler: Scaler = "standard",
        algorithm: str = "kmeans",
        random_state: int = 0,
    ) -> None:
        self.k = k
        self.k_range = k_range
        self.features = features
        self.id_column = id_column
        self.impute = impute
        self.log_transform = log_transform
        self.scaler = scaler
        self.algorithm = algorithm
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
            features=self.features, id_column=id_column, impute=self.impute,
            log_transform=self.log_transform, scaler=self.scaler,
        ).fit(df, source)
        X = self.preprocessor_.transform(df, source)
        timings["preprocess"] = time.perf_counter() - started

        n_users = len(X)
        k_values = self._k_values(n_users, source)
        started = time.perf_counter()
        sample = sample_rows(ids, SEARCH_ROWS, self.random_state)
        X_sample = X[sample]
        self.k_selection_: KSelection | None = None
        if len(k_values) > 1:
            log.info("choosing K among %s on %d users", k_values, len(X_sample))
            self.k_selection_ = choose_k(X_sample, k_values, random_state=self.random_state)
            k = self.k_selection_.chosen_k
            init = self.k_selection_.centers[k]
        else:
            k, init = k_values[0], None
        timings["choose_k"] = time.perf_counter() - started

        started = time.perf_counter()
        log.info("fitting %s with K=%d on %d users", self.algorithm, k, n_users)
        segmenter_class = algorithm_class(self.algorithm)
        if init is None:
            # One K: search its starts on the sample, then refine once on everyone.
            init = segmenter_class(k, random_state=self.random_state).fit(X_sample) \
                .cluster_centers_
        self.segmenter_ = segmenter_class(k, random_state=self.random_state, init=init).fit(X)
        self.labels_ = self.segmenter_.labels_
        self.n_clusters_ = k
        timings["cluster"] = time.perf_counter() - started
        self.timings_ = timings
        self.n_users_ = n_users
        return self

    def _check_params(self) -> None:
        low, high = self.k_range
        if not (isinstance(low, int) and isinstance(high, int)) or low < 2 or high < low:
            raise ConfigError(f"k_range must be two ints with 2 <= low <= high; "
                              f"got {self.k_range!r}")
        if self.k != "auto" and (isinstance(self.k, bool) or not isinstance(self.k, int)):
            raise ConfigError(f"k must be 'auto' or an int >= 2; got {self.k!r}")
        if isinstance(self.k, int) and self.k < 2:
            raise ConfigError(f"k must be at least 2 (one segment is everyone); got {self.k}")

    def _k_values(self, n_users: int, source: str) -> list[int]:
        if isinstance(self.k, int):
            if self.k >= n_users:
                raise DataError(f"K={self.k} needs more users than segments; the input has "
                                f"{n_users} users", source=source)
            return [self.k]
        low, high = self.k_range
        if n_users <= low:
            raise DataError(f"{n_users} users are too few to search K in {low}..{high} "
                            f"(need more than {low})", source=source)
        return list(range(low, min(high, n_users - 1) + 1))

    # -------------------------------------------------------------- predict
    def transform(self, df: pd.DataFrame, source: str = "input") -> np.ndarray:
        self._check_fitted()
        return self.preprocessor_.transform(df, source)

    def predict(self, df: pd.DataFrame, source: str = "input") -> np.ndarray:
        """The segment of each row of ``df`` (a user table with the training columns)."""
        X = self.transform(df, source)
        return self.segmenter_.predict(X)

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
                       "id_column": self.id_column, "impute": self.impute,
                       "log_transform": self.log_transform, "scaler": self.scaler,
                       "algorithm": self.algorithm, "random_state": self.random_state},
            "id_column": self.id_column_,
            "n_users": self.n_users_,
            "preprocessor": pre_params,
            "segmenter": {"algorithm": self.segmenter_.name, **seg_params},
        }
        arrays = {f"preprocessor.{k}": v for k, v in pre_arrays.items()}
        arrays.update({f"segmenter.{k}": v for k, v in seg_arrays.items()})
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            (staging / "model.json").write_text(json.dumps(document, indent=2),
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
            model.n_clusters_ = int(seg["n_clusters"])
        except (KeyError, TypeError, ValueError, ConfigError) as exc:
            raise ModelFileError(f"{folder / 'model.json'}: incomplete or inconsistent model "
                                 f"({exc.__class__.__name__}: {exc})") from None
        return model


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
