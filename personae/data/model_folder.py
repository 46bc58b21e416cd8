"""The model folder ``SegmentModel.save`` writes and ``SegmentModel.load`` reads: JSON
documents with a format and version, and numbers in ``arrays.npz`` (``allow_pickle=False``),
so opening a model folder from someone else cannot run code.

    model.json      settings, decisions, the preprocessor and segmenter parameters
    arrays.npz      their arrays
    levels.json     the persona levels (centres, far limits, broad and detailed maps)
    rfm.json        the RFM cut points
    segments.json   persona names, sizes, shares, key facts (what a service answers with)
    forecast.json   the fitted forecast parameters, horizon and at-risk rule (event logs)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from personae._version import __version__
from personae.cluster.algorithms import algorithm_class
from personae.config import SegmentSettings, build
from personae.data.documents import document_text, read_document
from personae.data.formats import SEGMENTS_FORMAT
from personae.data.readers import read_arrays
from personae.data.writers import staged_folder
from personae.errors import ConfigError, ModelFileError
from personae.features.table import TablePreprocessor

FORMAT = "personae.segment-model"
FORMAT_VERSION = 2  # 2: settings (was params), segments.json with persona names
READABLE_VERSIONS = (1, 2)
LEVELS_FORMAT = "personae.levels"
RFM_FORMAT = "personae.rfm"
FORECAST_FORMAT = "personae.forecast"


@dataclass(frozen=True)
class ModelState:
    """What a model folder holds, read and checked: the model assembles itself from it."""

    settings: SegmentSettings
    id_column: str | None
    n_users: int
    preprocessor: TablePreprocessor
    segmenter: Any
    novelty_threshold: float
    segments: list[dict[str, Any]] | None
    levels: dict[str, Any] | None
    rfm: dict[str, Any] | None
    forecast: dict[str, Any] | None = None


def write_model_folder(model: Any, folder: Path, segments: list[dict[str, Any]] | None,
                       meanings: dict[str, Any] | None) -> Path:
    """``SegmentModel.save``: the folder appears complete or not at all."""
    pre_params, pre_arrays = model.preprocessor_.to_state()
    seg_params, seg_arrays = model.segmenter_.to_state()
    document = {
        "personae_version": __version__,
        "settings": model.settings_.model_dump(mode="json"),
        "id_column": model.id_column_,
        "n_users": model.n_users_,
        "preprocessor": pre_params,
        "segmenter": {"algorithm": model.segmenter_.name, **seg_params},
        "novelty_threshold": model.novelty_threshold_,
    }
    arrays = {f"preprocessor.{k}": v for k, v in pre_arrays.items()}
    arrays.update({f"segmenter.{k}": v for k, v in seg_arrays.items()})
    with staged_folder(folder, marker="model.json") as staging:
        (staging / "model.json").write_text(document_text(document, FORMAT, FORMAT_VERSION),
                                            encoding="utf-8")
        np.savez(staging / "arrays.npz", **arrays)
        levels, rfm = model.levels_, model.rfm_
        if levels is not None:
            (staging / "levels.json").write_text(document_text(levels, LEVELS_FORMAT, 1),
                                                 encoding="utf-8")
        if rfm is not None:  # new users scored by the same cuts
            (staging / "rfm.json").write_text(document_text(rfm, RFM_FORMAT, 1),
                                              encoding="utf-8")
        forecaster = getattr(model, "forecaster_", None)
        if forecaster is not None:  # new users' forecasts from the same parameters
            (staging / "forecast.json").write_text(document_text(
                forecaster.document(), FORECAST_FORMAT, 1), encoding="utf-8")
        if segments is not None:
            (staging / "segments.json").write_text(document_text(
                {"segments": segments, "feature_meanings": meanings or {}},
                SEGMENTS_FORMAT, 1), encoding="utf-8")
    return Path(folder)


def read_model_folder(folder: Path) -> ModelState:
    """``SegmentModel.load``'s reading: every file checked, every problem one line."""
    document = _read_document(folder)
    arrays = read_arrays(folder / "arrays.npz", "model arrays")
    try:
        # format 1 called the settings "params"; the names are the same
        settings: Any = document.get("settings", document.get("params"))
        settings = build(SegmentSettings, settings, str(folder / "model.json"))
        id_column = document["id_column"]
        n_users = int(document["n_users"])
        preprocessor = TablePreprocessor.from_state(
            document["preprocessor"], _prefixed(arrays, "preprocessor."))
        seg = dict(document["segmenter"])
        segmenter_class = algorithm_class(seg.pop("algorithm"))
        segmenter = segmenter_class.from_state(seg, _prefixed(arrays, "segmenter."))
        novelty_threshold = float(document["novelty_threshold"])
    except (KeyError, TypeError, ValueError, ConfigError) as exc:
        raise ModelFileError(f"{folder / 'model.json'}: incomplete or inconsistent model "
                             f"({exc.__class__.__name__}: {exc})") from None
    segments = _read_segments(folder)
    # levels.json and rfm.json had no format before version 2 of the model folder
    levels = read_document(folder / "levels.json", LEVELS_FORMAT, (1,), required=False,
                           legacy=True)
    levels = None if levels is None else \
        {k: v for k, v in levels.items() if k not in ("format", "format_version")}
    if levels is not None:
        try:
            int(levels["n_personas"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{folder / 'levels.json'}: no persona count "
                                 f"({exc.__class__.__name__}: {exc})") from None
    rfm = read_document(folder / "rfm.json", RFM_FORMAT, (1,), required=False,
                        legacy=True)
    rfm = None if rfm is None else \
        {k: v for k, v in rfm.items() if k not in ("format", "format_version")}
    forecast = read_document(folder / "forecast.json", FORECAST_FORMAT, (1,), required=False)
    return ModelState(settings, id_column, n_users, preprocessor, segmenter,
                      novelty_threshold, segments, levels, rfm, forecast)


def _read_segments(folder: Path) -> list[dict[str, Any]] | None:
    """segments.json's rows (segment, persona, size, share, facts), through the run
    folder's one reader of persona names; None when the model folder has none."""
    from personae.data.segments import read_segments

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
