"""The run folder: ``save_run`` writes a run result, ``load_run`` gives it back as a
:class:`Run`. Every reader of a run folder (report, monitor, uplift, the service) and every
writer (the embedded run, Spark) goes through here; the one reader of persona names and
facts is :func:`read_segments`.

    run.json                     the run's record, last, listing every file with its sha256
    users_segmented.csv/.parquet one row a user: id, segment, labels, the input columns
    segment_profiles.csv         per segment and feature: statistics and tests
    personas.json                the personas (format personae.personas)
    model/                       SegmentModel.save (segments.json: names, sizes, facts)
    k_selection.csv, algorithm_selection.csv, memberships.parquet, hierarchy.json,
    persona_levels.csv, persona_rfm.csv, journeys.json, user_map.parquet,
    sequence_profiles.json, report.html   where the run made them
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from personae.config import RunConfig, build
from personae.data.documents import ITEMS, document_text, read_document, write_document
from personae.data.writers import file_listing, staged_folder, write_frame
from personae.errors import ConfigError, ModelFileError
from personae.model import SEGMENTS_FORMAT, SegmentModel
from personae.profile.personas import PERSONAS_FORMAT

log = logging.getLogger(__name__)

RUN_FILE = "run.json"
RUN_FORMAT = "personae.run"
RUN_FORMAT_VERSION = 2  # 2: config verbatim, provenance, personas, journeys, map, files
RUN_VERSIONS = (1, 2)
HIERARCHY_FORMAT = "personae.hierarchy"
JOURNEYS_FORMAT = "personae.journeys"
SEQUENCE_PROFILES_FORMAT = "personae.sequence-profiles"
KEY_FACTS = 5  # what a service and the segments table say of each persona


@dataclass(frozen=True)
class Segment:
    """One segment as a service and a reader name it: its persona, size, share and up to
    five key facts (the persona's ``data_says``)."""

    segment: int
    persona: str
    size: int | None
    share: float | None
    facts: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"segment": self.segment, "persona": self.persona, "size": self.size,
                "share": self.share, "facts": list(self.facts)}


# ---------------------------------------------------------------------- writing
def save_run(result: Any, folder: str | Path) -> Path:
    """Write the run folder of ``result`` (a SegmentationResult): users, profiles, tables,
    personas, journeys, map, model/, then run.json; it appears only once all are written."""
    started = time.perf_counter()
    folder = Path(folder)
    with staged_folder(folder) as staging:
        users = result.users
        write_frame(users, staging / "users_segmented.csv")
        write_frame(users, staging / "users_segmented.parquet")
        result.profiles.to_csv(staging / "segment_profiles.csv", index=False)
        if result.k_table is not None:
            result.k_table.to_csv(staging / "k_selection.csv", index=False)
        if result.memberships is not None:
            write_frame(result.memberships, staging / "memberships.parquet")
        if result.algorithm_table is not None:
            result.algorithm_table.to_csv(staging / "algorithm_selection.csv", index=False)
        if result.hierarchy is not None:
            write_document(staging / "hierarchy.json", result.hierarchy, HIERARCHY_FORMAT, 1)
        if "levels_table" in result.extra:
            result.extra["levels_table"].to_csv(staging / "persona_levels.csv", index=False)
        if "rfm_crosstab" in result.extra:
            result.extra["rfm_crosstab"].to_csv(staging / "persona_rfm.csv")
        write_document(staging / "personas.json", result.personas, PERSONAS_FORMAT, 1)
        if result.journeys is not None:
            write_document(staging / "journeys.json", result.journeys, JOURNEYS_FORMAT, 1)
        if result.user_map is not None:
            write_frame(result.user_map, staging / "user_map.parquet")
        result.model.save(staging / "model", segments=segment_rows(result.personas,
                                                                   result.sizes),
                          meanings=result.info.get("feature_meanings"))
        if result.info["input"].get("kind") == "events":  # assign --events reads a log
            from personae.serve.batch import save_event_options  # the same way

            save_event_options(staging / "model", result.info["input"]["mapping"],
                               result.config.input.events)
        if "early" in result.extra:  # the k-NN of users' first days (--early-days)
            result.extra["early"].save(staging / "model")
        if result.reference is not None:  # what monitoring compares new users with
            result.reference.save(staging / "model")
        if "sequences" in result.extra:  # vocabulary and vectors, to embed new users
            from personae.features.sequence_pipeline import save_sequence_model

            save_sequence_model(result.extra["sequences"], staging / "model")
            write_document(staging / "sequence_profiles.json",
                           {"profiles": result.extra["sequence_profiles"]},
                           SEQUENCE_PROFILES_FORMAT, 1)
        info = dict(result.info)
        info["timings_seconds"] = {**info["timings_seconds"],
                                   "write": round(time.perf_counter() - started, 3)}
        write_run_json(staging, info)
    return folder


def write_run_json(folder: Path, info: dict[str, Any]) -> Path:
    """run.json of ``folder``: ``info`` stamped with the run format, with ``files`` listing
    every other file of the folder (path, bytes, sha256). Written last."""
    listing = [f for f in file_listing(folder) if f["path"] != RUN_FILE]
    return write_document(folder / RUN_FILE, {**info, "files": listing}, RUN_FORMAT,
                          RUN_FORMAT_VERSION)


def record_files(folder: str | Path, changed: tuple[str, ...] = ()) -> Path | None:
    """Re-list the files of a finished run folder in its run.json (atomically), after
    ``changed`` (paths relative to the folder: report.html, personas.json) were written
    into it. Files of the old listing with the same size keep their digest, so the
    users tables are not hashed again; None when ``folder`` has no run.json."""
    folder = Path(folder)
    info = read_document(folder / RUN_FILE, RUN_FORMAT, RUN_VERSIONS, required=False,
                         legacy=True)
    if info is None:
        return None
    known = {f["path"]: f for f in info.get("files") or [] if isinstance(f, dict)
             and "path" in f and f["path"] not in changed}
    listing = [f for f in file_listing(folder, known) if f["path"] != RUN_FILE]
    return write_document(folder / RUN_FILE, {**info, "files": listing}, RUN_FORMAT,
                          RUN_FORMAT_VERSION)


def run_json_text(info: dict[str, Any]) -> str:
    """run.json's text for a writer that stages the folder itself (Spark): the listing is
    ``info['files']`` as given."""
    return document_text(info, RUN_FORMAT, RUN_FORMAT_VERSION)


# --------------------------------------------------------------- persona names
def segment_rows(personas: dict[str, Any], sizes: pd.Series) -> list[dict[str, Any]]:
    """segments.json's rows: per persona of ``personas`` (personas.json), its segment,
    name, size (``sizes``: users per segment), share of all users and key facts."""
    total = int(sizes.sum()) or 1
    rows = []
    for p in _personas_of(personas):
        size = int(sizes.get(p["segment"], 0))
        rows.append({"segment": int(p["segment"]), "persona": p["name"], "size": size,
                     "share": round(size / total, 6), "facts": list(_facts(p))})
    return rows


def read_segments(model_dir: str | Path, n_segments: int | None = None
                  ) -> tuple[Segment, ...]:
    """The segments of a model folder: ``segments.json`` (facts from the run's
    personas.json when it predates them); else the run folder's personas.json with
    run.json's sizes; else ``segment N`` for each of ``n_segments``."""
    model_dir = Path(model_dir)
    run_dir = model_dir.parent
    document = read_document(model_dir / "segments.json", SEGMENTS_FORMAT, (1,),
                             required=False, legacy=True)
    personas = read_document(run_dir / "personas.json", PERSONAS_FORMAT, (1,),
                             required=False, legacy=True)
    by_segment = {int(p["segment"]): p for p in _personas_of(personas)}
    if document is not None:
        rows = document.get("segments", document.get(ITEMS))
        if not isinstance(rows, list):
            raise ModelFileError(f"{model_dir / 'segments.json'}: no list of segments")
        try:
            return tuple(Segment(
                int(r["segment"]), str(r["persona"]), _int_or_none(r.get("size")),
                None if r.get("share") is None else float(r["share"]),
                tuple(str(f) for f in r["facts"]) if "facts" in r
                else _facts(by_segment.get(int(r["segment"]), {})))
                for r in rows)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{model_dir / 'segments.json'}: a segment row lacks "
                                 f"segment or persona ({exc.__class__.__name__}: {exc})"
                                 ) from None
    sizes = _run_sizes(run_dir)
    total = sum(sizes.values()) or None
    segments = sorted(set(by_segment) | set(range(n_segments or 0)))
    return tuple(Segment(s, str(by_segment.get(s, {}).get("name") or f"segment {s}"),
                         sizes.get(s), None if s not in sizes or total is None
                         else round(sizes[s] / total, 6), _facts(by_segment.get(s, {})))
                 for s in segments)


def persona_names(personas: dict[str, Any] | None) -> dict[int, str]:
    """segment -> persona name of a personas.json document (a run result's ``personas``)."""
    return {int(p["segment"]): str(p["name"]) for p in _personas_of(personas)
            if p.get("name")}


def _personas_of(document: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not document:
        return []
    items = document.get("personas", document.get(ITEMS, []))
    return [p for p in items if isinstance(p, dict) and "segment" in p]


def _facts(persona: dict[str, Any]) -> tuple[str, ...]:
    said = persona.get("data_says") or persona.get("facts") or ()
    return tuple(str(f.get("text", "")) if isinstance(f, dict) else str(f)
                 for f in said[:KEY_FACTS])


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _run_sizes(run_dir: Path) -> dict[int, int]:
    info = read_document(run_dir / RUN_FILE, RUN_FORMAT, RUN_VERSIONS, required=False,
                         legacy=True) or {}
    sizes = (info.get("segments") or {}).get("sizes") or {}
    pairs = sizes.items() if isinstance(sizes, dict) else enumerate(sizes)
    try:
        return {int(k): int(v) for k, v in pairs if int(k) >= 0}
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{run_dir / RUN_FILE}: segments.sizes is not a list of counts "
                             f"({exc})") from None


# ---------------------------------------------------------------------- reading
@dataclass(frozen=True, eq=False)
class Run:
    """A finished run folder, as ``save_run`` wrote it. ``info`` (run.json), the personas,
    segments and journeys are read at once; the tables and the model when first used."""

    path: Path
    info: dict[str, Any]
    personas: dict[str, Any]
    segments: tuple[Segment, ...]
    journeys: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, {len(self.segments)} segments)"

    @property
    def id_column(self) -> str:
        return str(self.info.get("id_column") or self.users.columns[0])

    @property
    def names(self) -> dict[int, str]:
        """segment -> persona name."""
        return {s.segment: s.persona for s in self.segments}

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

    @property
    def has_model(self) -> bool:
        return (self.model_dir / "model.json").is_file()

    @cached_property
    def config(self) -> RunConfig:
        try:
            return build(RunConfig, self.info.get("config") or {},  # type: ignore[no-any-return]
                         f"{self.path / RUN_FILE} config")
        except ConfigError as exc:
            raise ModelFileError(str(exc)) from None

    @cached_property
    def model(self) -> SegmentModel:
        return SegmentModel.load(self.model_dir)

    @cached_property
    def users(self) -> pd.DataFrame:
        """users_segmented (Parquet, else CSV): id, segment, labels, input columns."""
        parquet, csv = self.path / "users_segmented.parquet", self.path / "users_segmented.csv"
        if parquet.is_file():
            return pd.read_parquet(parquet)
        if csv.is_file():
            return pd.read_csv(csv)
        raise ModelFileError(f"{parquet}: missing (nor users_segmented.csv); the run folder "
                             "is incomplete")

    @property
    def users_file(self) -> Path:
        parquet = self.path / "users_segmented.parquet"
        return parquet if parquet.is_file() else self.path / "users_segmented.csv"

    @property
    def labels(self) -> Any:
        return self.users["segment"].to_numpy()

    @cached_property
    def profiles(self) -> pd.DataFrame:
        path = self.path / "segment_profiles.csv"
        if not path.is_file():
            raise ModelFileError(f"{path}: missing; the run folder is incomplete")
        profiles = pd.read_csv(path, keep_default_na=False, na_values=[""],
                               dtype={"feature": "string"})
        profiles["feature"] = profiles["feature"].astype(object)
        return profiles

    @cached_property
    def k_table(self) -> pd.DataFrame | None:
        return self._csv("k_selection.csv")

    @cached_property
    def algorithm_table(self) -> pd.DataFrame | None:
        return self._csv("algorithm_selection.csv")

    @cached_property
    def levels_table(self) -> pd.DataFrame | None:
        return self._csv("persona_levels.csv")

    @cached_property
    def rfm_crosstab(self) -> pd.DataFrame | None:
        return self._csv("persona_rfm.csv", index_col=0)

    @cached_property
    def memberships(self) -> pd.DataFrame | None:
        return self._parquet("memberships.parquet")

    @cached_property
    def user_map(self) -> pd.DataFrame | None:
        return self._parquet("user_map.parquet")

    @cached_property
    def hierarchy(self) -> dict[str, Any] | None:
        return read_document(self.path / "hierarchy.json", HIERARCHY_FORMAT, (1,),
                             required=False, legacy=True)

    @cached_property
    def sequence_profiles(self) -> list[dict[str, Any]] | None:
        document = read_document(self.path / "sequence_profiles.json",
                                 SEQUENCE_PROFILES_FORMAT, (1,), required=False, legacy=True)
        return None if document is None else list(document.get("profiles",
                                                               document.get(ITEMS, [])))

    def _csv(self, name: str, **options: Any) -> pd.DataFrame | None:
        path = self.path / name
        return pd.read_csv(path, **options) if path.is_file() else None

    def _parquet(self, name: str) -> pd.DataFrame | None:
        path = self.path / name
        return pd.read_parquet(path) if path.is_file() else None


def load_run(folder: str | Path) -> Run:
    """The run ``folder`` holds (written by ``SegmentationResult.save`` / ``personae run``).

    A folder that is not a run, or a corrupt or newer run.json / personas.json /
    segments.json, is a one-line :class:`~personae.errors.ModelFileError` naming the file.
    """
    path = Path(folder)
    if not (path / RUN_FILE).is_file():
        raise ModelFileError(f"{path}: not a personae run folder (no run.json); is this a "
                             "folder written by 'personae run'?")
    info = read_document(path / RUN_FILE, RUN_FORMAT, RUN_VERSIONS, legacy=True)
    personas = read_document(path / "personas.json", PERSONAS_FORMAT, (1,), required=False,
                             legacy=True)
    journeys = read_document(path / "journeys.json", JOURNEYS_FORMAT, (1,), required=False,
                             legacy=True)
    assert info is not None  # required: read_document raised otherwise
    n_segments = int((info.get("segments") or {}).get("k") or 0)
    return Run(path=path, info=info, personas=personas or {},
               segments=read_segments(path / "model", n_segments), journeys=journeys)
