"""A loaded model as the service uses it: the one adapter onto ``SegmentModel``.

``load_model(folder)`` is the only place the service touches the model's internals (the
fitted preprocessor's columns and the segmenter), so the integrator can re-point it when
the model changes. Everything per request is numpy on small arrays: no pandas.

The fast path applies the same cleaning as ``SegmentModel.transform``: numbers through
``TablePreprocessor.numeric_matrix`` (impute, log, scale), categories one-hot against the
saved levels, with codes written the way ``category_text`` writes them (``3`` and ``3.0``
are the same level), then the model's own ``assign_matrix``: the one assignment every path
shares.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np

from personae.data.documents import read_document
from personae.data.model_folder import FORMAT, READABLE_VERSIONS
from personae.data.segments import Segment
from personae.data.segments import read_segments as run_segments
from personae.errors import PersonaeError
from personae.model import SegmentModel

log = logging.getLogger(__name__)

ID_KEYS = ("user_id",)


class RequestError(PersonaeError):
    """A request the model cannot answer: names the field; the service answers 422."""

    def __init__(self, message: str, *, field: str, known: list[str] | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.known = known


@dataclass(frozen=True)
class ModelInfo:
    """Which model answered: shown in every response and in ``/ready``."""

    folder: str
    version: str
    format_version: int
    created: str
    hash: str
    algorithm: str
    n_segments: int

    def as_dict(self) -> dict[str, Any]:
        return {"folder": self.folder, "version": self.version,
                "format_version": self.format_version, "created": self.created,
                "hash": self.hash, "algorithm": self.algorithm, "n_segments": self.n_segments}

    @cached_property
    def as_json(self) -> str:
        """``as_dict`` as compact JSON, encoded once: it opens every ``/assign`` answer."""
        return json.dumps(self.as_dict(), separators=(",", ":"))


@dataclass
class LoadedModel:
    """A model folder loaded once; ``assign`` is safe to call from many threads."""

    model: SegmentModel
    info: ModelInfo
    segments: list[Segment]
    id_column: str | None
    numeric: list[str] = field(default_factory=list)
    categorical: dict[str, list[str]] = field(default_factory=dict)
    modes: dict[str, str] = field(default_factory=dict)
    early: Any = None  # personae.serve.early.EarlyModel when the folder holds one
    medians: np.ndarray | None = None  # per numeric column, in ``numeric`` order
    log_positions: np.ndarray | None = None  # of the signed-log columns in ``numeric``

    @property
    def features(self) -> list[str]:
        """The input columns the model reads (what a request must send per user)."""
        return sorted([*self.numeric, *self.categorical])

    def persona(self, segment: int) -> str:
        for seg in self.segments:
            if seg.segment == segment:
                return seg.persona
        return "edge users" if segment < 0 else f"segment {segment}"

    # ------------------------------------------------------------- fast path
    def matrix(self, users: list[dict[str, Any]], where: str = "users") -> np.ndarray:
        """Users (dicts of feature -> value) -> the model's scaled float32 matrix."""
        n = len(users)
        allowed = self._allowed
        needed = self._needed
        for i, user in enumerate(users):
            keys = user.keys()
            if not keys <= allowed or not needed <= keys:
                self._refuse_keys(i, user, where)
        width = len(self.numeric)
        raw = self._numbers(users, where)
        texts = {name: [_category(user[name], self.modes[name]) for user in users]
                 for name in self.categorical}
        X = np.empty((n, len(self.model.preprocessor_.feature_names_)), dtype=np.float32)
        if width:
            X[:, :width] = self._numeric_block(raw)
        position = width
        rows = np.arange(n) if self.categorical else None
        for name in sorted(self.categorical):
            levels = self.categorical[name]
            lookup = {level: j for j, level in enumerate(levels)}
            codes = np.array([lookup.get(v, len(levels)) for v in texts[name]], dtype=np.int64)
            block = np.zeros((n, len(levels) + 1), dtype=np.float32)
            block[rows, codes] = 1.0
            X[:, position: position + len(levels) + 1] = block
            position += len(levels) + 1
        return X

    @cached_property  # the columns never change after loading; a set per request did
    def _allowed(self) -> set[str]:
        # the training table's other columns too: a row copied from that file is a fair
        # request, and the columns the model does not read are ignored
        seen = self.model.preprocessor_.input_columns_
        return {*self.features, *seen, *self.id_keys}

    @cached_property
    def id_keys(self) -> tuple[str, ...]:
        """The keys a user's id may come under: ``user_id``, then the model's id column."""
        return (*ID_KEYS, *([self.id_column] if self.id_column else []))

    @cached_property
    def _numeric_values(self) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
        """A user's numeric values in ``numeric`` order, read in C."""
        if len(self.numeric) > 1:
            return itemgetter(*self.numeric)
        return lambda user: tuple(user[name] for name in self.numeric)  # itemgetter of
        # one name gives the value alone, of none fails

    @cached_property
    def _needed(self) -> set[str]:
        return set(self.features)

    def _refuse_keys(self, i: int, user: dict[str, Any], where: str) -> None:
        unknown = sorted(k for k in user if k not in self._allowed)
        if unknown:
            raise RequestError(f"unknown features {unknown}", field=f"{where}[{i}].{unknown[0]}",
                               known=self.features)
        missing = [k for k in self.features if k not in user]
        raise RequestError(f"missing features {missing} (send null for a value you do not "
                           "know: it is imputed as in training)",
                           field=f"{where}[{i}].{missing[0]}", known=self.features)

    def _numbers(self, users: list[dict[str, Any]], where: str) -> np.ndarray:
        """The numeric columns as float64 (null -> NaN): one numpy conversion when every
        value is a finite number or numeric text; else value by value, naming the bad one."""
        shape = (len(users), len(self.numeric))
        try:
            raw = np.array([*map(self._numeric_values, users)], dtype=np.float64)
            # the ufunc's own reduce: ndarray.any() goes through a Python wrapper
            if raw.shape == shape and not np.logical_or.reduce(np.isinf(raw), axis=None):
                return raw.reshape(shape)
        except (ValueError, TypeError, OverflowError):
            pass
        raw = np.empty(shape, dtype=np.float64)
        for i, user in enumerate(users):
            for j, name in enumerate(self.numeric):
                raw[i, j] = _number(user[name], f"{where}[{i}].{name}")
        return raw

    def _numeric_block(self, raw: np.ndarray) -> np.ndarray:
        """``TablePreprocessor.numeric_matrix`` for all columns at once: the same float64
        operations per value (median, signed log, centre and scale), without a numpy
        call per column; k-NN imputation goes through the preprocessor itself."""
        pre = self.model.preprocessor_
        if pre.impute != "median":
            return pre.numeric_matrix({name: raw[:, j] for j, name in
                                       enumerate(self.numeric)}, len(raw))
        assert self.medians is not None and self.log_positions is not None
        block = np.where(np.isnan(raw), self.medians, raw)
        if len(self.log_positions):
            logged = block[:, self.log_positions]
            block[:, self.log_positions] = np.sign(logged) * np.log1p(np.abs(logged))
        return (block - pre.center_) / pre.scale_

    def assign_matrix(self, X: np.ndarray) -> dict[str, np.ndarray | None]:
        """Labels, novelty, probability and broad level of each row of the scaled matrix,
        by the model's own ``assign_matrix`` (the one assignment every path shares). The
        probability is the assigned segment's membership, so a model answering with
        persona levels has none (its memberships are of the natural partition)."""
        columns = self.model.assign_matrix(X)
        labels = columns["segment"]
        probability = None
        if "probability" in columns and "natural_segment" not in columns:
            probability = np.where(labels >= 0, columns["probability"], np.nan)
        broad = columns.get("broad_segment", columns.get("level_1"))
        return {"labels": labels, "novel": columns["novel"], "probability": probability,
                "broad": broad}

    def assign(self, users: list[dict[str, Any]], ids: list[Any],
               where: str = "users") -> list[dict[str, Any]]:
        """One assignment dict per user, in order."""
        result = self.assign_matrix(self.matrix(users, where))
        out = []
        probability, broad = result["probability"], result["broad"]
        assert result["labels"] is not None and result["novel"] is not None
        labels, novel = result["labels"].tolist(), result["novel"].tolist()
        for i, user_id in enumerate(ids):
            label = int(labels[i])
            p = None if probability is None or math.isnan(probability[i]) else \
                round(float(probability[i]), 6)
            out.append({"user_id": user_id, "segment": label, "persona": self.persona(label),
                        "probability": p, "novel": bool(novel[i]),
                        "broad_segment": None if broad is None else int(broad[i])})
        return out


def _number(value: Any, where: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:
            raise RequestError("number too large", field=where) from None
    elif isinstance(value, str):
        text = value.strip()
        if text == "":
            return math.nan
        try:
            number = float(text)
        except (ValueError, OverflowError):
            raise RequestError(f"{value!r} is not a number", field=where) from None
    else:
        raise RequestError(f"expected a number or null, got {type(value).__name__}",
                           field=where)
    if math.isinf(number):
        raise RequestError("infinite value", field=where)
    return number


def _category(value: Any, mode: str) -> str:
    """A category code as ``category_text`` writes it; null -> the training mode."""
    if value is None:
        return mode
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        number = float(value)
        if math.isnan(number):
            return mode
        if number % 1 == 0 and abs(number) < 2**53:
            return str(int(number))
        return repr(number)
    return str(value)


# ------------------------------------------------------------------ loading
def load_model(folder: str | Path) -> LoadedModel:
    """Load a model folder for serving (raises ``ModelFileError`` when it cannot)."""
    folder = Path(folder)
    model = SegmentModel.load(folder)
    pre = model.preprocessor_
    loaded = LoadedModel(
        model=model, info=model_info(folder, model), segments=read_segments(folder, model),
        id_column=model.id_column_, numeric=list(pre.numeric_),
        categorical={k: list(v) for k, v in pre.categorical_.items()}, modes=dict(pre.modes_),
    )
    loaded.medians = np.array([pre.medians_[n] for n in pre.numeric_], dtype=np.float64)
    loaded.log_positions = np.flatnonzero([n in pre.log_columns_ for n in pre.numeric_])
    from personae.serve.early import EarlyModel, has_early_model

    if has_early_model(folder):
        loaded.early = EarlyModel.load(folder)
    return loaded


def model_info(folder: Path, model: SegmentModel) -> ModelInfo:
    digest = hashlib.sha256()
    for name in ("model.json", "arrays.npz"):
        digest.update((folder / name).read_bytes())
    document = read_document(folder / "model.json", FORMAT, READABLE_VERSIONS) or {}
    created = document.get("created")
    if not isinstance(created, str):
        stamp = (folder / "model.json").stat().st_mtime
        created = datetime.fromtimestamp(stamp, UTC).isoformat(timespec="seconds")
    return ModelInfo(folder=str(folder), version=str(document.get("personae_version")),
                     format_version=int(document.get("format_version", 0)), created=created,
                     hash=digest.hexdigest()[:16], algorithm=str(model.segmenter_.name),
                     n_segments=int(model.n_clusters_))


def read_segments(folder: Path, model: SegmentModel) -> list[Segment]:
    """Names, sizes and key facts: ``model/segments.json``; else the run folder's
    ``personas.json`` and ``run.json``; else ``segment N`` (``personae.data.run_folder``)."""
    return list(run_segments(folder, model.n_clusters_))
