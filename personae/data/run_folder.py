"""The run folder: ``save_run`` writes a run result, ``load_run`` gives it back as a
:class:`Run`. Every reader of a run folder (report, monitor, uplift, the service) and every
writer (the embedded run, Spark) goes through here; the one reader of persona names and
facts is :func:`personae.data.segments.read_segments`.

    run.json                     the run's record, last, listing every file with its sha256
    users_segmented.parquet      one row a user: id, segment, labels, the input columns
    users_segmented.csv          the same rows: id, segment and labels (csv_columns)
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
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from personae.config import RunConfig, build
from personae.data.documents import ITEMS, document_text, read_document, write_document
from personae.data.formats import (
    PERSONAS_FORMAT,
    RUN_FILE,
    RUN_FORMAT,
    RUN_FORMAT_VERSION,
    RUN_VERSIONS,
)
from personae.data.segments import Segment, read_segments, segment_rows
from personae.data.writers import file_listing, staged_folder, write_frame
from personae.errors import ConfigError, ModelFileError
from personae.model import SegmentModel

log = logging.getLogger(__name__)

HIERARCHY_FORMAT = "personae.hierarchy"
JOURNEYS_FORMAT = "personae.journeys"
SEQUENCE_PROFILES_FORMAT = "personae.sequence-profiles"


# ---------------------------------------------------------------------- writing
def save_run(result: Any, folder: str | Path) -> Path:
    """Write the run folder of ``result`` (a SegmentationResult): users, profiles, tables,
    personas, journeys, map, model/, then run.json; it appears only once all are written."""
    started = time.perf_counter()
    folder = Path(folder)
    with staged_folder(folder) as staging:
        users = written_users(result.users, result.info)
        with ThreadPoolExecutor(1) as pool:  # Arrow writes both outside the GIL
            whole = pool.submit(write_frame, users, staging / "users_segmented.parquet")
            digests = write_frame(users[csv_columns(list(users.columns), result.data.columns)],
                                  staging / "users_segmented.csv")
            digests.update(whole.result())
        result.profiles.to_csv(staging / "segment_profiles.csv", index=False)
        if result.k_table is not None:
            result.k_table.to_csv(staging / "k_selection.csv", index=False)
        if result.memberships is not None:
            digests.update(write_frame(result.memberships, staging / "memberships.parquet"))
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
            from personae.data.event_options import save_event_options  # the same way

            save_event_options(staging / "model", result.info["input"]["mapping"],
                               result.config.input.events,
                               result.info["input"].get("event_group"))
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
        write_run_json(staging, info, digests)
    return folder


def input_id_column(info: dict[str, Any]) -> str:
    """The user id's name in the run's input, which users_segmented and every export keep
    (``CustomerID``, ``student_id``): an event log's user column (its features call it
    ``user_id``, the name every stage reads), else the table's own id column."""
    internal = str(info.get("id_column") or "user_id")
    given = info.get("input") or {}
    if given.get("kind") != "events":
        return internal
    return str((given.get("mapping") or {}).get("user") or internal)


def written_users(users: pd.DataFrame, info: dict[str, Any]) -> pd.DataFrame:
    """users_segmented as written: the id under the input's own name (unless another
    column already has that name)."""
    internal, own = str(info.get("id_column") or users.columns[0]), input_id_column(info)
    if own == internal or own in users.columns or internal not in users.columns:
        return users
    return users.rename(columns={internal: own})


def csv_columns(columns: list[str], input_columns: Iterable[Any]) -> list[str]:
    """users_segmented.csv's columns: the id and what the run made of each user (segment,
    persona, the levels, probabilities, novelty, RFM, forecasts), not the input's own
    columns, which the Parquet copy and the input file already hold: the CSV is what a
    CRM or a spreadsheet joins on, and formatting every input number again in text cost
    1.5 s a million users. ``columns``: users_segmented's, id first; an input column that
    clashed with a label is there as ``input_<name>``."""
    present = set(columns)
    given = {f"input_{c}" if f"input_{c}" in present else str(c) for c in input_columns}
    return [columns[0], *(c for c in columns[1:] if c not in given)]


def write_run_json(folder: Path, info: dict[str, Any],
                   digests: dict[Path, str] | None = None) -> Path:
    """run.json of ``folder``: ``info`` stamped with the run format, with ``files`` listing
    every other file of the folder (path, bytes, sha256). Written last. ``digests``: the
    sha256 of files already hashed as they were written (``write_frame``), not read again."""
    known = {path.relative_to(folder).as_posix(): {
        "path": path.relative_to(folder).as_posix(), "bytes": path.stat().st_size,
        "sha256": digest} for path, digest in (digests or {}).items()}
    listing = [f for f in file_listing(folder, known) if f["path"] != RUN_FILE]
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

    def _repr_html_(self) -> str:
        """Jupyter's view, as a run in memory shows itself (personae/report/notebook.py)."""
        from personae.report.notebook import notebook_html

        users = sum(s.size or 0 for s in self.segments)
        return notebook_html(self.personas, self.user_map, users,
                             f"{len(self.segments)} segments of {users:,} users: run "
                             f"{self.path}")

    def show(self) -> None:
        """Display the run's report.html inside a notebook (a result in memory builds its
        own: ``SegmentationResult.show``)."""
        from personae.report.notebook import show_page

        page = self.path / "report.html"
        if not page.is_file():
            raise ModelFileError(f"{page}: missing; write it with 'personae report "
                                 f"{self.path}' (or personae.report.write_report)")
        show_page(page.read_text(encoding="utf-8"))

    @property
    def id_column(self) -> str:
        """The id as every stage reads it (``users``, the model): ``user_id`` for a log."""
        return str(self.info.get("id_column") or self.users.columns[0])

    @property
    def input_id_column(self) -> str:
        """The id as the input named it, and as users_segmented and the exports write it."""
        return input_id_column(self.info) if self.info.get("id_column") else self.id_column

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
        if parquet.is_file() or csv.is_file():
            users = pd.read_parquet(parquet) if parquet.is_file() else pd.read_csv(csv)
            own, internal = self.input_id_column, self.id_column
            if own != internal and own in users.columns and internal not in users.columns:
                users = users.rename(columns={own: internal})  # every stage reads user_id
            return users
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
