"""Find an event log, map its columns to roles and build the SQL that types them.

The SQL that turns typed events into features lives in :mod:`personae.features.events`.
Everything here is about the edge: which files, which columns, how each raw value becomes
a typed value, and which rows are bad.
"""

from __future__ import annotations

import glob as globmod
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from personae.errors import ConfigError, DataError
from personae.features.lexicon import name_words
from personae.features.table import USER_ID_NAMES, id_like_name, user_id_candidates

#: The roles a column of an event log can play; only ``user`` and ``time`` are required.
ROLES: tuple[str, ...] = (
    "user", "time", "event", "value", "quantity", "price",
    "session", "item", "category", "order",
)

#: Column names recognised for each role, compared after lower-casing and removing
#: everything but letters and digits (``Customer ID`` -> ``customerid``). First match wins.
CANDIDATES: Mapping[str, tuple[str, ...]] = {
    "user": USER_ID_NAMES,
    "time": ("timestamp", "eventtime", "eventtimestamp", "datetime", "invoicedate",
             "orderdate", "transactiondate", "createdat", "occurredat", "starttime",
             "starttimestamp", "startedat", "startdate", "begintime", "time", "ts", "date",
             "day", "dt"),
    "event": ("eventtype", "eventname", "event", "action", "activity", "type"),
    "value": ("value", "amount", "revenue", "dollarvalue", "sales", "totalprice", "total",
              "spend", "ordervalue"),
    "quantity": ("quantity", "qty", "numberofcds", "units", "numitems"),
    "price": ("price", "unitprice", "itemprice"),
    "session": ("sessionid", "session", "visitid"),
    "item": ("itemid", "productid", "stockcode", "sku", "articleid", "item", "product"),
    "category": ("categoryid", "categorycode", "categoryname", "productcategory", "category"),
    "order": ("orderid", "invoice", "invoiceno", "invoiceid", "transactionid", "basketid",
              "receiptid", "order"),
}

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz")
DUCKDB_SUFFIXES = (".duckdb", ".ddb", ".db")
# what analytics tools export (Segment, RudderStack, Mixpanel, Snowplow): JSON lines, or
# one JSON array; gzipped too
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz", ".json.gz")
_TIMESTAMP_TYPES = ("TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "DATETIME")
_INT_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
              "UINTEGER", "UBIGINT")
_NUMERIC_TYPES = _INT_TYPES + ("FLOAT", "DOUBLE", "REAL")
_OFFSET_RE = r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)$"


@dataclass(frozen=True)
class Source:
    """Where the events come from: SQL naming a relation, and a label for messages."""

    relation: str
    label: str
    kind: str  # "parquet", "csv", "txt", "json", "duckdb" or "dataframe"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _has_suffix(path: Path, suffixes: Sequence[str]) -> bool:
    name = path.name.lower()
    return any(name.endswith(s) for s in suffixes)


def _kind_of(path: Path) -> str | None:
    if _has_suffix(path, PARQUET_SUFFIXES):
        return "parquet"
    if _has_suffix(path, CSV_SUFFIXES):
        return "csv"
    if _has_suffix(path, DUCKDB_SUFFIXES):
        return "duckdb"
    if _has_suffix(path, JSON_SUFFIXES):
        return "json"
    return None


def resolve_source(con: duckdb.DuckDBPyConnection, source: Any, table: str | None) -> Source:
    """Turn a path, folder, glob, DuckDB file or DataFrame into a relation on ``con``."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(source, pd.DataFrame):
        con.register("personae_events_df", source)
        return Source("personae_events_df", "<DataFrame>", "dataframe")
    if not isinstance(source, (str, Path)):
        raise ConfigError(
            "The 'source' parameter of from_events must be a path, a glob or a pandas "
            f"DataFrame. Got {type(source).__name__} instead."
        )
    text = str(source)
    if any(ch in text for ch in "*?["):
        files = sorted(Path(p) for p in globmod.glob(text, recursive=True) if Path(p).is_file())
        if not files:
            raise DataError("no files match this pattern", source=text)
        return _flattened(con, _files_source(files, text))
    path = Path(text)
    if not path.exists():
        raise DataError("file not found", source=text)
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and _kind_of(p) in
                       ("parquet", "csv", "json"))
        if not found:
            raise DataError("folder holds no .parquet, .csv or JSON lines files", source=text)
        return _flattened(con, _files_source(found, text))
    kind = _kind_of(path)
    if kind is None:
        raise DataError(
            f"unknown file type {path.suffix!r}; expected .parquet, .csv, .tsv, .txt, JSON "
            "lines (.jsonl, .ndjson, .json, gzipped too) or a DuckDB database (.duckdb, .db)",
            source=text)
    if path.stat().st_size == 0:
        raise DataError("file is empty: no events", source=text)
    if kind == "duckdb":
        return _duckdb_source(con, path, table)
    return _flattened(con, _files_source([path], text))


def _files_source(files: list[Path], label: str) -> Source:
    kinds = {_kind_of(p) for p in files}
    if len(kinds) != 1 or None in kinds or "duckdb" in kinds:
        raise DataError("expected only .parquet, only .csv or only JSON lines files; found "
                        f"{sorted(str(k) for k in kinds)}", source=label)
    empty = [p for p in files if p.stat().st_size == 0]
    if empty:
        raise DataError("file is empty: no events", source=str(empty[0]))
    listing = "[" + ", ".join(quote_literal(str(p)) for p in files) + "]"
    if kinds == {"parquet"}:
        return Source(f"read_parquet({listing}, union_by_name=true)", label, "parquet")
    if kinds == {"json"}:  # read out of core, its types detected on a sample of records
        return Source(f"read_json({listing}, format='auto', union_by_name=true)", label,
                      "json")
    first = files[0]
    header = _first_line(first)
    if first.suffix.lower() == ".txt" and header and not re.search(r"[,\t;|]", header):
        names = header.split()
        if not names:
            raise DataError("file has no header line", source=label)
        fields = ", ".join(f"f[{i + 1}] AS {quote_ident(n)}" for i, n in enumerate(names))
        relation = (
            f"(SELECT {fields} FROM (SELECT string_split_regex(trim(line), '\\s+') AS f "
            f"FROM read_csv({listing}, columns={{'line': 'VARCHAR'}}, header=true, "
            "delim='\x01', quote='', escape='') WHERE trim(line) <> ''))"
        )
        return Source(relation, label, "txt")
    delim = ", delim='\\t'" if first.name.lower().endswith((".tsv", ".tsv.gz")) else ""
    relation = f"read_csv({listing}, header=true, all_varchar=true, union_by_name=true{delim})"
    return Source(relation, label, "csv")


def _flattened(con: duckdb.DuckDBPyConnection, src: Source) -> Source:
    """A JSON export's nested fields as columns named by their path, so a mapping reaches
    them (``value=properties.revenue``); in the track-call shape of Segment and RudderStack
    a call without a ``userId`` is its ``anonymousId``'s. Other sources as they are."""
    if src.kind != "json":
        return src
    columns = _leaves(con, src, f"SELECT * FROM {src.relation}", ())
    if "userId" in columns and "anonymousId" in columns:
        columns["userId"] = 'coalesce("userId", "anonymousId")'
    fields = ", ".join(f"{expr} AS {quote_ident(name)}" for name, expr in columns.items())
    return Source(f"(SELECT {fields} FROM {src.relation})", src.label, "json")


def _leaves(con: duckdb.DuckDBPyConnection, src: Source, query: str,
            path: tuple[str, ...]) -> dict[str, str]:
    """Dotted name -> SQL of every non-struct field under ``path``."""
    try:
        described = con.execute(f"DESCRIBE {query}").fetchall()
    except duckdb.Error as exc:
        raise DataError(f"cannot read events ({_one_line(exc)})", source=src.label) from None
    out: dict[str, str] = {}
    for name, dtype, *_ in described:
        where = (*path, str(name))
        expr = ".".join(quote_ident(part) for part in where)
        if str(dtype).upper().startswith("STRUCT("):
            inner = f"SELECT nested.* FROM (SELECT {expr} AS nested FROM {src.relation})"
            out.update(_leaves(con, src, inner, where))
        else:
            out[".".join(where)] = expr
    return out


def _first_line(path: Path) -> str:
    if path.name.lower().endswith(".gz"):
        return ""
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        return handle.readline().strip()


def _duckdb_source(con: duckdb.DuckDBPyConnection, path: Path, table: str | None) -> Source:
    label = str(path)
    try:
        con.execute(f"ATTACH {quote_literal(label)} AS personae_src (READ_ONLY)")
    except duckdb.Error as exc:
        raise DataError(f"not a readable DuckDB database ({_one_line(exc)})",
                        source=label) from None
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = "
        "'personae_src' ORDER BY table_name").fetchall()]
    if table is None:
        if len(tables) != 1:
            raise ConfigError(
                f"{label}: pass table=... (--table) to choose the events table; "
                f"tables are: {', '.join(tables) or '(none)'}")
        table = tables[0]
    if table not in tables:
        raise DataError(f"table {table!r} not found; tables are: {', '.join(tables) or '(none)'}",
                        source=label)
    return Source(f"personae_src.{quote_ident(table)}", f"{label}:{table}", "duckdb")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


def describe(con: duckdb.DuckDBPyConnection, src: Source) -> dict[str, str]:
    """Column name -> DuckDB type name of the source relation."""
    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM {src.relation}").fetchall()
    except duckdb.Error as exc:
        raise DataError(f"cannot read events ({_one_line(exc)})", source=src.label) from None
    return {str(r[0]): str(r[1]).upper() for r in rows}


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def map_columns(columns: Mapping[str, str], given: Mapping[str, str | None],
                label: str, repeats: Callable[[str], bool] | None = None) -> dict[str, str]:
    """Role -> column, from the names given and, for the rest, detection by name.

    Without an established user column name (user_id, Customer ID...), a column named for
    a person (``student_id``, ``player``) or any other ``<noun>_id`` is the user column
    when ``repeats`` says its values repeat, as a user's do in a log (an ``event_id``
    does not); ``repeats=None`` takes the name alone. Without an established time column
    name, the first column named like a moment (``submitted_at``) is the time.
    """
    listing = ", ".join(repr(c) for c in columns)
    mapping: dict[str, str] = {}
    for role, name in given.items():
        if name is None:
            continue
        if name not in columns:
            raise DataError(f"mapped column for {role} does not exist; columns are: {listing}",
                            source=label, column=name)
        mapping[role] = name
    used = set(mapping.values())
    by_norm: dict[str, str] = {}
    for col in columns:
        by_norm.setdefault(_norm(col), col)
    for role in ROLES:
        if role in mapping:
            continue
        for candidate in CANDIDATES[role]:
            found = by_norm.get(candidate)
            if found is not None and found not in used:
                mapping[role] = found
                used.add(found)
                break
        if role == "time" and role not in mapping:  # submitted_at, EventDate
            found = next((c for c in columns if c not in used and time_like_name(c)), None)
            if found is not None:
                mapping[role] = found
                used.add(found)
        if role == "user" and role not in mapping:
            found = next((c for c in user_id_candidates([c for c in columns if c not in used])
                          if repeats is None or repeats(c)), None)
            if found is not None:
                mapping[role] = found
                used.add(found)
    for role, flag in (("user", "--user"), ("time", "--time")):
        if role not in mapping:
            raise DataError(f"no {role} column found by name; map it with {flag} "
                            f"(or {role}=...); columns are: {listing}", source=label)
    return {role: mapping[role] for role in ROLES if role in mapping}


_TIME_WORDS = {"at", "ts", "date", "timestamp", "datetime", "epoch", "day", "dt"}
_EVENT_MOMENTS = {"start", "end", "begin", "stop", "finish", "event", "log", "created",
                  "updated", "modified", "submit", "submission", "login", "logout", "due"}


def time_like_name(name: str) -> bool:
    """Named like a moment (``end_time``, ``created_at``, ``date_submitted``), not a duration
    (``idle_time``, ``time_spent``)."""
    words = name_words(name)
    if _norm(name) in CANDIDATES["time"]:
        return True
    if not words:
        return False
    return words[-1] in _TIME_WORDS or words[0] in ("date", "timestamp") or \
        (words[-1] == "time" and words[0] in _EVENT_MOMENTS)


#: Last words of a column name that say which one, not how much: a number in such a column
#: is a code or a position (country 29, colour 3, page 2, order 5), and its total means
#: nothing.
_WHICH_WORDS = {"country", "region", "location", "city", "zip", "state", "colour", "color",
                "category", "type", "code", "class", "group", "kind", "status", "model",
                "brand", "channel", "device", "browser", "os", "gender", "language", "year",
                "month", "day", "week", "weekday", "hour", "order", "position", "rank", "step",
                "page", "exercise", "lesson", "module", "course", "chapter", "question",
                "item", "product", "session", "segment", "cluster", "version"}


def extra_candidates(columns: Mapping[str, str], mapping: Mapping[str, str]) -> list[str]:
    """The log's other columns that may be numbers to total per user (a game's attempts,
    a lab log's idle time): not mapped to a role, not named like an id, a moment, or a
    code or position (``_WHICH_WORDS``). Which of them hold numbers is the engine's to
    check (every value given must parse)."""
    used = set(mapping.values())
    return [c for c in columns if c not in used and not id_like_name(c)
            and not time_like_name(c) and not _row_label(c)
            and not (name_words(c)[-1:] and name_words(c)[-1] in _WHICH_WORDS)]


def _row_label(name: str) -> bool:
    """A column a tool wrote, not the log's author: a saved pandas index
    (``__index_level_0__``, ``Unnamed: 0``) or a hidden one (``_rescued_data``)."""
    return name.startswith("_") or name.lower().startswith("unnamed")


def repeats_in(con: duckdb.DuckDBPyConnection, src: Source, rows: int = 100_000
               ) -> Callable[[str], bool]:
    """Whether a column's values repeat within the first ``rows`` rows of the source."""
    def check(column: str) -> bool:
        q = quote_ident(column)
        found = con.execute(f"SELECT count({q}) > count(DISTINCT {q}) FROM (SELECT {q} "
                            f"FROM {src.relation} LIMIT {int(rows)})").fetchone()
        return bool(found and found[0])
    return check


def time_expr(col: str, dtype: str, time_format: str | None) -> str:
    """SQL turning a raw time column into a UTC TIMESTAMP (NULL where it does not parse)."""
    q = quote_ident(col)
    base = dtype.split("(")[0].strip()
    if time_format is not None:
        return f"try_strptime(CAST({q} AS VARCHAR), {quote_literal(time_format)})"
    if base in _TIMESTAMP_TYPES:
        return f"CAST({q} AS TIMESTAMP)"
    if base in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"):
        return f"CAST({q} AS TIMESTAMP)"  # the session time zone is UTC
    if base == "DATE":
        return f"CAST({q} AS TIMESTAMP)"
    if base in _INT_TYPES:
        return (f"CASE WHEN {q} BETWEEN 10000101 AND 29991231 "
                f"THEN try_strptime(CAST({q} AS VARCHAR), '%Y%m%d') "
                f"WHEN {q} > 100000000000 THEN try_cast(to_timestamp({q} / 1000.0) AS TIMESTAMP) "
                f"ELSE try_cast(to_timestamp({q}) AS TIMESTAMP) END")
    text = f"nullif(trim(CAST({q} AS VARCHAR)), '')"
    return (f"coalesce(CAST(try_cast({text} AS TIMESTAMPTZ) AS TIMESTAMP), "
            f"try_strptime({text}, ['%Y%m%d', '%Y%m%d%H%M%S', '%Y/%m/%d %H:%M:%S', "
            f"'%Y/%m/%d %H:%M', '%Y/%m/%d']))")


def offset_expr(col: str, dtype: str) -> str | None:
    """SQL giving the UTC offset written in a text timestamp, or None for typed columns."""
    if dtype.split("(")[0].strip() not in ("VARCHAR", "TEXT", "STRING"):
        return None
    return f"regexp_extract(trim({quote_ident(col)}), {quote_literal(_OFFSET_RE)})"


def number_expr(col: str, dtype: str) -> str:
    q = quote_ident(col)
    if dtype.split("(")[0].strip() in _NUMERIC_TYPES or dtype.startswith("DECIMAL"):
        return f"CAST({q} AS DOUBLE)"
    return f"try_cast(nullif(trim(CAST({q} AS VARCHAR)), '') AS DOUBLE)"


def text_expr(col: str, dtype: str) -> str:
    q = quote_ident(col)
    if dtype.split("(")[0].strip() in ("VARCHAR", "TEXT", "STRING"):
        return f"nullif(trim({q}), '')"
    return f"CAST({q} AS VARCHAR)"


def id_expr(col: str, dtype: str) -> str:
    """Ids that are only grouped and compared: integers stay integers (they hash and sort
    faster than their text), anything else is text."""
    if dtype.split("(")[0].strip() in _INT_TYPES:
        return quote_ident(col)
    return text_expr(col, dtype)


def user_expr(col: str, dtype: str) -> str:
    """User ids keep their type when numeric, so the output joins back to the source."""
    base = dtype.split("(")[0].strip()
    if base in ("FLOAT", "DOUBLE", "REAL") or dtype.startswith("DECIMAL"):
        # a float id column is an integer column that held NULLs on its way through pandas
        return f"CAST({quote_ident(col)} AS BIGINT)"
    return id_expr(col, dtype)


def raw_is_set(col: str, dtype: str) -> str:
    """SQL true where the raw column holds something (not NULL, not blank text)."""
    q = quote_ident(col)
    if dtype.split("(")[0].strip() in ("VARCHAR", "TEXT", "STRING"):
        return f"(nullif(trim({q}), '') IS NOT NULL)"
    return f"({q} IS NOT NULL)"


def sanitise(name: str) -> str:
    """A snake_case column-name fragment for an event type: ``Add to cart`` -> ``add_to_cart``."""
    cleaned = re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")
    return cleaned or "blank"
