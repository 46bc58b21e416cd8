"""The adapter: what uplift reads from a run folder and from an experiment table.

Everything personae/experiments needs from the rest of personae goes through this module
(the run folder's files, the saved model for ``assign=True``, the DuckDB source reader of
the event features), so it can be re-pointed in one place.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from personae.data.run_folder import load_run
from personae.errors import ConfigError, DataError, ModelFileError
from personae.features.events_io import Source, describe, quote_ident, quote_literal
from personae.features.events_io import resolve_source as _resolve_source

log = logging.getLogger(__name__)

# Optional coarser or alternative groupings a run's users table may carry: level -> columns.
LEVEL_COLUMNS = {
    "persona": ("persona", "persona_name"),
    "broad": ("broad_segment", "broad"),
    "rfm": ("rfm_segment", "rfm"),
}
USER = "__user"
ARM = "__arm"
NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
           "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "REAL", "BOOLEAN")


@dataclass(frozen=True)
class RunFolder:
    """The parts of a run folder uplift uses."""

    path: Path
    users_file: Path
    id_column: str
    levels: dict[str, str]  # level name -> its source: a column, or model/segments.json
    features: list[str]  # raw input columns the segments were made from
    names: dict[int, str] = field(default_factory=dict)  # segment -> persona name
    columns: dict[str, str] = field(default_factory=dict)  # users table column -> type


def read_run(run_dir: str | Path, con: duckdb.DuckDBPyConnection) -> RunFolder:
    """Read run.json and the users table's schema (not its rows) of a run folder, through
    ``personae.data.run_folder``."""
    saved = load_run(run_dir)
    info, path = saved.info, saved.path
    users_file = saved.users_file
    if not users_file.is_file():
        raise DataError("run folder has no users_segmented.parquet or .csv", source=str(path))
    relation = _table_relation(users_file)
    columns = describe(con, Source(relation, str(users_file), "parquet"))
    id_column = saved.input_id_column if info.get("id_column") else ""  # the file's name
    if id_column not in columns or "segment" not in columns:
        raise DataError(f"users table lacks the id column {id_column!r} or 'segment'",
                        source=str(users_file))
    levels = {"segment": "segment"}
    for level, candidates in LEVEL_COLUMNS.items():
        found = next((c for c in candidates if c in columns), None)
        if found is not None:
            levels[level] = found
    used = [str(f).split("=", 1)[0] for f in info.get("features_used") or []]
    features = [name for name in dict.fromkeys(used) if name in columns and name != id_column]
    names = saved.names
    if len(set(names.values())) == len(names):  # one name a segment: the segment level again
        levels.pop("persona", None)
    elif "persona" not in levels:
        levels["persona"] = "persona names of model/segments.json (several segments share one)"
    return RunFolder(path, users_file, id_column, levels, features, names, columns)


def level_expr(run: RunFolder, level: str) -> str:
    """SQL giving a user's group at ``level``: its column, or the persona name by segment."""
    source = run.levels[level]
    if source in run.columns:
        return quote_ident(source)
    cases = " ".join(f"WHEN {seg} THEN {quote_literal(name)}" for seg, name in
                     sorted(run.names.items()))
    return f"CASE CAST(segment AS BIGINT) {cases} END"


def segment_name(names: dict[int, str], segment: Any) -> str:
    try:
        key = int(segment)
    except (TypeError, ValueError):
        return str(segment)
    return names.get(key, "edge users" if key < 0 else f"segment {key}")


def _table_relation(path: Path) -> str:
    if path.suffix == ".parquet":
        return f"read_parquet({quote_literal(str(path))})"
    return f"read_csv({quote_literal(str(path))}, header=true)"


def open_experiment(con: duckdb.DuckDBPyConnection, experiment: Any,
                    table: str | None) -> tuple[Source, dict[str, str]]:
    """The experiment (a path, a DuckDB file with ``table``, or a DataFrame) on ``con``."""
    src = _resolve_source(con, experiment, table)
    return src, describe(con, src)


def value_expr(column: str, dtype: str, table: str = "") -> str:
    """A numeric outcome as DOUBLE; text 'true'/'false' read as 1/0."""
    col = (f"{table}." if table else "") + quote_ident(column)
    if dtype.startswith(("DECIMAL", *NUMERIC)):
        return f"CAST({col} AS DOUBLE)"
    return (f"CASE lower(trim(CAST({col} AS VARCHAR))) WHEN 'true' THEN 1.0 WHEN 'false' "
            f"THEN 0.0 ELSE TRY_CAST(trim(CAST({col} AS VARCHAR)) AS DOUBLE) END")


def key_expr(column: str, dtype: str, other: str, table: str = "") -> str:
    """Join key: the column as is when both sides share a type, else as text."""
    col = (f"{table}." if table else "") + quote_ident(column)
    return col if dtype == other else f"CAST({col} AS VARCHAR)"


def run_users(con: duckdb.DuckDBPyConnection, run: RunFolder, user: str, user_type: str
              ) -> str:
    """View ``run_users`` (id, levels, features of the run's users); returns the
    experiment-side join key expression (the id as is, or as text when the types differ)."""
    run_key = key_expr(run.id_column, run.columns[run.id_column], user_type)
    picks = [f"{run_key} AS {USER}"]
    picks += [f"{level_expr(run, lvl)} AS {quote_ident('lvl_' + lvl)}" for lvl in run.levels]
    picks += [f"{quote_ident(c)} AS {quote_ident('f_' + c)}" for c in run.features]
    con.execute(f"CREATE OR REPLACE TEMP VIEW run_users AS SELECT {', '.join(picks)} FROM "
                f"{_table_relation(run.users_file)}")
    return key_expr(user, user_type, run.columns[run.id_column], "e")


def outside_run(con: duckdb.DuckDBPyConnection, src: Source, exp_key: str, user: str) -> str:
    """SQL (from FROM on) of the experiment rows whose user is not in the run."""
    return (f"FROM {src.relation} e WHERE NOT EXISTS (SELECT 1 FROM run_users r "
            f"WHERE r.{USER} = {exp_key})")


def refuse_outsiders(con: duckdb.DuckDBPyConnection, run: RunFolder, src: Source,
                     exp_key: str, user: str, missing: int) -> None:
    first = con.execute(f"SELECT {quote_ident(user)} {outside_run(con, src, exp_key, user)} "
                        "LIMIT 1").fetchone()
    raise DataError(
        f"{missing:,} experiment rows have users that are not in the run {run.path} "
        f"(first: {first[0] if first else '?'}); pass --assign to label them with the "
        "run's model", source=src.label, column=user)


def assign_outsiders(con: duckdb.DuckDBPyConnection, run: RunFolder, src: Source,
                     exp_key: str, user: str, user_type: str) -> str:
    """View ``all_users``: the run's users and the experiment's other users, labelled by
    the run's model from the experiment's own feature columns (other levels unknown)."""
    frame = con.execute(f"SELECT * {outside_run(con, src, exp_key, user)}").df()
    labels = _assign(run, frame, src.label)
    assigned = pd.DataFrame({USER: frame[user].to_numpy(), "lvl_segment": labels})
    for lvl, source in run.levels.items():
        if lvl != "segment":
            assigned["lvl_" + lvl] = None
            if lvl == "persona" and source not in run.columns:
                assigned["lvl_" + lvl] = [run.names.get(int(v)) for v in labels]
    for name in run.features:
        assigned["f_" + name] = frame[name].to_numpy() if name in frame else None
    con.register("assigned_df", assigned)
    log.info("assigned %s experiment users who are not in the run with its model",
             f"{len(frame):,}")
    cols = ", ".join(quote_ident(c) for c in assigned.columns)
    key = USER if user_type == run.columns[run.id_column] else f"CAST({USER} AS VARCHAR)"
    con.execute(f"CREATE OR REPLACE TEMP VIEW all_users AS SELECT {cols} FROM run_users "
                f"UNION ALL SELECT {key} AS {USER}, "
                f"{', '.join(quote_ident(c) for c in assigned.columns[1:])} FROM assigned_df")
    return "all_users"


def _assign(run: RunFolder, frame: pd.DataFrame, source: str) -> Any:
    from personae.model import SegmentModel

    model_dir = run.path / "model"
    if not model_dir.is_dir():
        raise ModelFileError(f"{model_dir}: no saved model to assign experiment users with")
    model = SegmentModel.load(model_dir)
    try:
        return model.assign(frame, source)["segment"].to_numpy()
    except KeyError as exc:
        raise ConfigError(f"--assign: the experiment lacks the model's feature column {exc}; "
                          f"the model needs {model.feature_names}") from None
