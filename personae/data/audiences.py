"""A run's audiences for the tools that act on them: one id file per persona (and per RFM
cell when the run has an RFM map), the traits as Segment/RudderStack ``identify`` calls in
JSON lines, and one Parquet table for a warehouse. Read through ``load_run``.

    audiences/
      personas/00-<persona>.csv   the ids of each persona's users (edge users: no number)
      rfm/<cell>.csv              the ids of each RFM cell, where the run has one
      identify.jsonl              {"type": "identify", "userId": ..., "traits": {...},
                                   "timestamp": ...}, one user a line
      audiences.parquet           id, segment, persona and the run's other labels
      audiences.json              what was written, with counts (written last)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from personae.data.documents import write_document
from personae.data.run_folder import load_run
from personae.data.segments import persona_column
from personae.data.writers import staged_folder, write_frame
from personae.features.table import id_text

AUDIENCES_FORMAT = "personae.audiences"
MANIFEST = "audiences.json"
# the labels a tool may act on, as users_segmented names them, in this order
LABELS = ("segment", "persona", "broad_segment", "natural_segment", "detailed_segment",
          "rfm_segment", "rfm_score", "novel")


@dataclass(frozen=True)
class Audiences:
    """What ``export_audiences`` wrote: the folder, the users and the files per audience."""

    folder: Path
    users: int
    personas: dict[str, int]  # file (relative to the folder) -> users
    rfm_cells: dict[str, int]


def export_audiences(run_dir: str | Path, to: str | Path) -> Audiences:
    """Write the audiences of the run in ``run_dir`` to the folder ``to`` (all or nothing;
    an earlier export there is replaced, any other folder refused)."""
    run = load_run(run_dir)
    users = run.users
    ids = id_text(users[run.id_column])
    key = run.input_id_column  # the input's own name: the column a CRM joins on
    table = pd.DataFrame({key: ids.to_numpy()})
    for label in LABELS:
        if label == "persona" and "persona" not in users:  # a run from before the column
            table["persona"] = persona_column(users["segment"].to_numpy(), run.names)
        elif label in users:
            table[label] = users[label].to_numpy()
    personas: dict[str, int] = {}
    cells: dict[str, int] = {}
    with staged_folder(to, marker=MANIFEST, what="export") as staging:
        for (segment, name), group in table.groupby(["segment", "persona"], sort=True):
            # numbered as the segments, largest first; edge users (-1) by their name alone
            number = "" if segment < 0 else f"{int(segment):02d}-"
            path = f"personas/{number}{_file_name(str(name))}.csv"
            personas[path] = _ids(group[[key]], staging / path)
        if "rfm_segment" in table:
            for cell, group in table.dropna(subset=["rfm_segment"]).groupby("rfm_segment"):
                path = f"rfm/{_file_name(str(cell))}.csv"
                cells[path] = _ids(group[[key]], staging / path)
        _identify_lines(table, key, str(run.info.get("created") or ""),
                        staging / "identify.jsonl")
        write_frame(table, staging / "audiences.parquet")
        write_document(staging / MANIFEST, {
            "run": str(run.path), "id_column": key, "users": len(table),
            "personas": personas, "rfm_cells": cells,
            "identify": "identify.jsonl", "warehouse": "audiences.parquet"},
            AUDIENCES_FORMAT, 1)
    return Audiences(Path(to), len(table), personas, cells)


def _file_name(text: str) -> str:
    """A persona or cell name as a file name any system takes: 'Loyal Big Spenders' ->
    'loyal-big-spenders'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower().replace("'", "")).strip("-") or "unnamed"


def _ids(frame: pd.DataFrame, path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_frame(frame, path)
    return len(frame)


def _identify_lines(table: pd.DataFrame, id_column: str, timestamp: str, path: Path) -> None:
    """One ``identify`` call a user (Segment's and RudderStack's spec: type, userId as
    text, traits, an ISO-8601 timestamp: the run's own time, when the traits were found)."""
    traits = [c for c in ("persona", "segment", "broad_segment", "rfm_segment")
              if c in table]
    with path.open("w", encoding="utf-8") as handle:
        for row in table[[id_column, *traits]].itertuples(index=False):
            values = dict(zip(traits, row[1:], strict=True))
            handle.write(json.dumps({
                "type": "identify", "userId": str(row[0]),
                "traits": {k: _plain(v) for k, v in values.items() if not _missing(v)},
                "timestamp": timestamp}, ensure_ascii=False) + "\n")


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)
