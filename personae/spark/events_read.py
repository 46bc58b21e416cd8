"""An event log as a Spark DataFrame, its columns mapped to roles and typed in Spark SQL.

The same typing rules as :mod:`personae.features.events_io` (which writes them in DuckDB
SQL): user ids keep an integer type, float ids become integers, text times are read as
ISO times (an offset is converted to UTC) or one of the compact forms the embedded engine
accepts, numbers that do not parse are NULL and counted as bad.
"""

from __future__ import annotations

import glob as globmod
import re
from pathlib import Path
from typing import Any

from personae.errors import ConfigError, DataError
from personae.features.events_io import CSV_SUFFIXES, DUCKDB_SUFFIXES, PARQUET_SUFFIXES
from personae.features.events_sql import extra_typed_name
from personae.spark.session import from_pandas

_OFFSET_RE = r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)$"
# strptime directive -> Java DateTimeFormatter letters (the ones event logs use)
_STRPTIME = {"Y": "yyyy", "m": "MM", "d": "dd", "H": "HH", "M": "mm", "S": "ss", "y": "yy",
             "b": "MMM", "B": "MMMM", "f": "SSSSSS", "I": "hh", "p": "a", "j": "DDD",
             "z": "Z", "e": "d"}


def q(name: str) -> str:
    """A column name quoted for Spark SQL."""
    return "`" + name.replace("`", "``") + "`"


def lit(text: str) -> str:
    """A Spark SQL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _kind_of(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if name.endswith(DUCKDB_SUFFIXES):
        return "duckdb"
    return None


def read_source(spark: Any, source: Any) -> tuple[Any, str]:
    """(Spark DataFrame, label) for a path, folder, glob, pandas or Spark DataFrame."""
    import pandas as pd
    from pyspark.sql import DataFrame

    if isinstance(source, DataFrame):
        return source, "<Spark DataFrame>"
    if isinstance(source, pd.DataFrame):
        return from_pandas(spark, source), "<DataFrame>"
    if not isinstance(source, (str, Path)):
        raise ConfigError("The 'source' parameter must be a path, a glob, a pandas or a Spark "
                          f"DataFrame. Got {type(source).__name__} instead.")
    text = str(source)
    if any(ch in text for ch in "*?["):
        files = sorted(Path(p) for p in globmod.glob(text, recursive=True) if Path(p).is_file())
        if not files:
            raise DataError("no files match this pattern", source=text)
    else:
        path = Path(text)
        if not path.exists():
            raise DataError("file not found", source=text)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file()
                           and _kind_of(p) in ("parquet", "csv"))
            if not files:
                raise DataError("folder holds no .parquet or .csv files", source=text)
        else:
            files = [path]
    kinds = {_kind_of(p) for p in files}
    if kinds == {"duckdb"}:
        raise ConfigError(f"{text}: a DuckDB database is read by the embedded engine only "
                          "(--engine embedded); export the table to Parquet for Spark")
    if len(kinds) != 1 or None in kinds:
        raise DataError("expected only .parquet files or only .csv files; found "
                        f"{sorted(str(k) for k in kinds)}", source=text)
    empty = [p for p in files if p.stat().st_size == 0]
    if empty:
        raise DataError("file is empty: no events", source=str(empty[0]))
    names = [str(p.absolute()) for p in files]  # the JVM's working directory is its own
    if kinds == {"parquet"}:
        return spark.read.option("mergeSchema", "true").parquet(*names), text
    first = files[0]
    if first.suffix.lower() == ".txt":
        with first.open("r", encoding="utf-8", errors="replace") as handle:
            header = handle.readline()
        if not re.search(r"[,\t;|]", header):
            raise ConfigError(f"{text}: whitespace-separated .txt logs are read by the "
                              "embedded engine only (--engine embedded)")
    sep = "\t" if first.name.lower().endswith((".tsv", ".tsv.gz")) else ","
    reader = spark.read.option("header", "true").option("inferSchema", "false") \
        .option("sep", sep).option("mode", "PERMISSIVE")
    return reader.csv(names), text


def dtype_names(frame: Any) -> dict[str, str]:
    """Column -> a short kind: string, int, float, decimal, timestamp, date or other."""
    from pyspark.sql import types as T

    kinds: dict[str, str] = {}
    for f in frame.schema.fields:
        t = f.dataType
        if isinstance(t, T.StringType):
            kind = "string"
        elif isinstance(t, (T.ByteType, T.ShortType, T.IntegerType, T.LongType)):
            kind = "int"
        elif isinstance(t, (T.FloatType, T.DoubleType)):
            kind = "float"
        elif isinstance(t, T.DecimalType):
            kind = "decimal"
        elif isinstance(t, (T.TimestampType, T.TimestampNTZType)):
            kind = "timestamp"
        elif isinstance(t, T.DateType):
            kind = "date"
        else:
            kind = "other"
        kinds[f.name] = kind
    return kinds


def java_pattern(time_format: str) -> str:
    """A strptime format as a Java DateTimeFormatter pattern, or a ConfigError."""
    out: list[str] = []
    literal: list[str] = []
    i = 0

    def flush() -> None:
        if literal:
            chunk = "".join(literal).replace("'", "''")
            out.append(f"'{chunk}'" if re.search(r"[A-Za-z']", chunk) else chunk)
            literal.clear()

    while i < len(time_format):
        ch = time_format[i]
        if ch == "%" and i + 1 < len(time_format):
            code = time_format[i + 1]
            if code == "%":
                literal.append("%")
            elif code in _STRPTIME:
                flush()
                out.append(_STRPTIME[code])
            else:
                raise ConfigError(f"time format {time_format!r}: %{code} is not supported by "
                                  "the Spark engine; supported: "
                                  + " ".join(f"%{c}" for c in _STRPTIME))
            i += 2
            continue
        literal.append(ch)
        i += 1
    flush()
    return "".join(out)


def text(col: str, kind: str) -> str:
    return f"nullif(trim({q(col)}), '')" if kind == "string" else f"CAST({q(col)} AS STRING)"


def id_sql(col: str, kind: str) -> str:
    return q(col) if kind == "int" else text(col, kind)


def user_sql(col: str, kind: str) -> str:
    if kind in ("float", "decimal"):
        return f"CAST({q(col)} AS BIGINT)"
    return id_sql(col, kind)


def number_sql(col: str, kind: str) -> str:
    if kind in ("int", "float", "decimal"):
        return f"CAST({q(col)} AS DOUBLE)"
    return f"try_cast(nullif(trim(CAST({q(col)} AS STRING)), '') AS DOUBLE)"


def is_set_sql(col: str, kind: str) -> str:
    if kind == "string":
        return f"(nullif(trim({q(col)}), '') IS NOT NULL)"
    return f"({q(col)} IS NOT NULL)"


def time_sql(col: str, kind: str, time_format: str | None) -> str:
    """A TIMESTAMP in UTC (the session zone), NULL where the raw time does not parse."""
    c = q(col)
    if time_format is not None:
        return f"try_to_timestamp(CAST({c} AS STRING), {lit(java_pattern(time_format))})"
    if kind in ("timestamp", "date"):
        return f"CAST({c} AS TIMESTAMP)"
    if kind == "int":
        return (f"CASE WHEN {c} BETWEEN 10000101 AND 29991231 "
                f"THEN try_to_timestamp(CAST({c} AS STRING), 'yyyyMMdd') "
                f"WHEN {c} > 100000000000 THEN timestamp_millis({c}) "
                f"ELSE timestamp_seconds({c}) END")
    t = f"nullif(trim(CAST({c} AS STRING)), '')"
    # ISO times first (what DuckDB's TIMESTAMPTZ cast reads), then the compact forms; a
    # bare year or year-month is not a time (Spark's cast would take it, DuckDB's not)
    return (f"CASE WHEN {t} RLIKE '^[0-9]{{8}}$' THEN try_to_timestamp({t}, 'yyyyMMdd') "
            f"WHEN {t} RLIKE '^[0-9]{{14}}$' THEN try_to_timestamp({t}, 'yyyyMMddHHmmss') "
            f"WHEN {t} RLIKE '^[0-9]{{4}}/' THEN coalesce("
            f"try_to_timestamp({t}, 'yyyy/MM/dd HH:mm:ss'), "
            f"try_to_timestamp({t}, 'yyyy/MM/dd HH:mm'), try_to_timestamp({t}, 'yyyy/MM/dd')) "
            f"WHEN {t} RLIKE '^[0-9]{{4}}-[0-9]{{1,2}}-[0-9]{{1,2}}' "
            f"THEN try_cast({t} AS TIMESTAMP) END")


def offset_sql(col: str, kind: str) -> str | None:
    if kind != "string":
        return None
    return f"regexp_extract(trim({q(col)}), {lit(_OFFSET_RE)}, 0)"


def typed_columns(kinds: dict[str, str], mapping: dict[str, str],
                  time_format: str | None, candidates: list[str] | None = None) -> list[str]:
    """The SELECT list of the typed view: the same columns as the embedded ``typed``."""
    def col(role: str) -> tuple[str, str]:
        return mapping[role], kinds[mapping[role]]

    parts = [f"{user_sql(*col('user'))} AS user_id",
             f"{time_sql(*col('time'), time_format)} AS ts",
             f"{is_set_sql(*col('time'))} AS ts_given"]
    offset = offset_sql(*col("time"))
    if offset is not None and time_format is None:
        parts.append(f"{offset} AS ts_offset")
    for role in ("value", "quantity", "price"):
        if role in mapping:
            parts.append(f"{number_sql(*col(role))} AS {role}")
            parts.append(f"{is_set_sql(*col(role))} AS {role}_given")
    for role, name in (("event", "event"), ("session", "session"), ("item", "item"),
                       ("category", "category"), ("order", "ord")):
        if role in mapping:
            as_sql = id_sql if role in ("session", "item") else text
            parts.append(f"{as_sql(*col(role))} AS {name}")
    for i, column in enumerate(candidates or []):
        typed = extra_typed_name(i)
        parts.append(f"{number_sql(column, kinds[column])} AS {typed}")
        parts.append(f"{is_set_sql(column, kinds[column])} AS {typed}_given")
    return parts
