"""Event log -> one row of behavioural features per user, computed in DuckDB SQL.

Stages (each logs a line and calls ``progress`` when given):

1. find the source and map columns to roles (:mod:`personae.features.events_io`);
2. type every row in SQL and count what is wrong: missing user ids (dropped, counted),
   times that do not parse and numbers that do not parse (refused, or skipped and counted
   with ``on_bad_rows="skip"``), events after the reference date (left out, counted);
3. keep the good rows once each (exact duplicates over the mapped columns are counted
   and dropped) in a DuckDB table: in memory, or compressed in a file in a temporary
   folder when it would not fit in ``memory_limit``;
4. aggregate per user: RFM, sessions, engagement, time of day, breadth, trend, returns.

Conventions, chosen so every feature is numeric, and defined for every user where it can be:

- Times are UTC. Text times with an offset are converted; text times without one are
  read as UTC. Time-of-day features use UTC hours.
- A session ends when the next event of the user comes ``session_gap_minutes`` or more
  later (a gap of exactly the threshold starts a new session). A one-event session lasts 0.
- "Purchases" are all rows, unless an event column has purchase-like types (purchase,
  order, buy, checkout, transaction): then only those. Returns are lines with a negative
  quantity (or negative value), an order id like ``C123`` (a cancellation) or an event
  type naming a return, cancellation or refund.
- ``frequency`` counts distinct non-return orders when an order column is mapped,
  otherwise distinct days with a purchase. ``monetary_total`` is net of returns.
- ``recency_days`` counts from the last purchase; a user who never purchased gets their
  tenure (they have not purchased since they were first seen).
- ``days_between_visits`` is the mean gap between consecutive active days; for a user
  with one active day it is undefined, so missing (NaN): not 0, which would read as "very
  frequent", nor their tenure, which would be a second copy of recency. The model imputes
  it (``TablePreprocessor``); the profiles describe it over the users who have it. When no
  user came on two days (a log of one day) the column is left out, as ``return_share`` is
  in a log without returns.
- With date-only times (all at midnight) session and time-of-day features are left out.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time as clock
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from personae.data.writers import atomic_file
from personae.errors import ConfigError, DataError
from personae.features import events_sql
from personae.features.events_io import (
    Source,
    describe,
    extra_candidates,
    id_expr,
    map_columns,
    number_expr,
    offset_expr,
    quote_ident,
    quote_literal,
    raw_is_set,
    repeats_in,
    resolve_source,
    text_expr,
    time_expr,
    user_expr,
)
from personae.features.semantics import FeatureMeaning, Semantics

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]
_MEMORY_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)\s*$",
                        re.IGNORECASE)
_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}  # as DuckDB reads them
_SHOW_BAD = 5
# above this share of rows at the same time as the user's previous event, remove
# duplicates with one DISTINCT over the table instead of picking the candidates out of it
_DISTINCT_SHARE = 0.2


@dataclass(frozen=True)
class EventReport:
    """What happened on the way from the log to the features; nothing is dropped silently."""

    source: str
    mapping: dict[str, str]
    rows_read: int
    missing_user: int
    bad_time: int
    bad_numbers: dict[str, int]
    bad_rows_skipped: int
    after_reference: int
    duplicates_removed: int
    rows_used: int
    users: int
    reference_date: datetime
    first_event: datetime
    last_event: datetime
    time_offsets: tuple[str, ...]
    times_without_offset: int
    date_only: bool
    sessions_from: Literal["column", "gap", "none"]
    session_gap_minutes: float
    event_types: tuple[str, ...]
    seconds: float
    notes: tuple[str, ...] = ()
    # what says the log holds purchases ("" when nothing does): the words of the personas
    # speak of orders and buying only when it is set
    purchases: str = ""
    # the regex that grouped the event labels into kinds ("" when none did): a new log of
    # the same model is grouped by it (model/events.json)
    event_group: str = ""

    def lines(self) -> list[str]:
        """The report as short human-readable lines (the CLI prints these)."""
        mapped = ", ".join(f"{role}={col!r}" for role, col in self.mapping.items())
        out = [
            f"source: {self.source}",
            f"columns: {mapped}",
            f"rows read: {self.rows_read:,}; used: {self.rows_used:,}; users: {self.users:,}",
            f"dropped: {self.missing_user:,} without user id, {self.bad_rows_skipped:,} bad "
            f"rows skipped, {self.duplicates_removed:,} exact duplicates, "
            f"{self.after_reference:,} after the reference date",
            f"events from {self.first_event} to {self.last_event} (UTC); "
            f"reference date {self.reference_date}",
            f"purchases: {self.purchases}" if self.purchases else
            "purchases: none (no purchase-like event type, no value, price, quantity or "
            "order column): the personas speak of activity, not buying",
        ]
        return out + list(self.notes)


@dataclass(frozen=True)
class EventFeatures:
    """Per-user features (``user_id`` first, one row per user) and the report."""

    frame: pd.DataFrame
    report: EventReport
    meanings: dict[str, FeatureMeaning] = field(default_factory=dict)
    rows: pd.DataFrame | None = None

    @property
    def feature_names(self) -> list[str]:
        return [c for c in self.frame.columns if c != "user_id"]

    def semantics(self) -> Semantics:
        """Meanings of every column, including the per-event-type shares of this log."""
        return Semantics(user=dict(self.meanings))


def from_events(
    source: Any,
    *,
    user: str | None = None,
    time: str | None = None,
    event: str | None = None,
    value: str | None = None,
    quantity: str | None = None,
    price: str | None = None,
    session: str | None = None,
    item: str | None = None,
    category: str | None = None,
    order: str | None = None,
    table: str | None = None,
    time_format: str | None = None,
    reference_date: str | date | datetime | None = None,
    session_gap_minutes: float = 30,
    top_event_types: int = 8,
    event_group: str | None = None,
    keep_duplicates: bool = False,
    on_bad_rows: Literal["error", "skip"] = "error",
    keep_rows: bool = False,
    memory_limit: str | None = None,
    threads: int | None = None,
    progress: Progress | None = None,
    progress_bar: bool = False,
    connection: Any = None,
) -> EventFeatures:
    """Compute per-user behavioural features from an event log, in DuckDB.

    ``source`` is a CSV/Parquet file, a folder or glob of them, a DuckDB database (with
    ``table``) or a pandas DataFrame. Column roles not given are detected by name.
    ``event_group``: a regex grouping event labels into kinds (a label's kind is its first
    group); None: the built-in rule when it earns its place, "": none
    (:func:`personae.features.events_sql.group_labels`).
    Exact duplicate rows (identical in every mapped column) are counted and dropped; pass
    ``keep_duplicates=True`` where identical rows are real repeats (a log without order ids).
    ``keep_rows``: also return the events the features were computed from (``rows``: the
    mapped columns under their own names, typed, in the file's order, without the rows
    left out), so the stages that need events (journeys, sequences, early windows) do not
    read the log again.
    ``connection``: a DuckDB database to work in, for callers computing features of many
    small logs (the service): each call takes a cursor of it (its own temporary views)
    instead of starting a database (25 ms); its threads and spill folder are the caller's
    (``threads`` is then ignored) and ``memory_limit`` should say the database's own.
    Raises :class:`DataError` for bad input and :class:`ConfigError` for bad parameters.
    """
    started = clock.perf_counter()
    ref = _check_params(on_bad_rows, session_gap_minutes, top_event_types, memory_limit,
                        threads, reference_date)
    import duckdb

    limit = memory_limit or default_memory_limit()
    # a folder of our own for an own database's spills; a caller's database (the service)
    # spills where its owner said, and gets a folder only for a log too big for memory
    work = _Work(folder=tempfile.mkdtemp(prefix="personae-duckdb-") if connection is None
                 else None, memory_bytes=_size_bytes(limit))
    con = duckdb.connect(":memory:") if connection is None else connection.cursor()
    own = None if connection is None else quote_ident(f"personae_{uuid.uuid4().hex}")
    try:
        con.execute("SET TimeZone = 'UTC'")
        if own is None:
            con.execute(f"SET memory_limit = '{limit}'")
            con.execute(f"SET threads = {int(threads or os.cpu_count() or 1)}")
            con.execute(f"SET temp_directory = '{work.folder}'")
            con.execute("SET preserve_insertion_order = false")
        else:  # this call's tables in a database of its own: calls may run side by side
            con.execute(f"ATTACH ':memory:' AS {own}")
            con.execute(f"USE {own}")
        # in Jupyter without ipywidgets DuckDB starts with the bar off and refuses any SET of it
        if con.execute("SELECT current_setting('enable_progress_bar')").fetchall() != [
                (bool(progress_bar),)]:
            con.execute(f"SET enable_progress_bar = {'true' if progress_bar else 'false'}")
        _step(progress, "reading the event log")
        src = resolve_source(con, source, table)
        columns = describe(con, src)
        given = {"user": user, "time": time, "event": event, "value": value,
                 "quantity": quantity, "price": price, "session": session, "item": item,
                 "category": category, "order": order}
        mapping = map_columns(columns, given, src.label, repeats_in(con, src))
        _step(progress, "mapped columns: " + ", ".join(f"{k}={v}" for k, v in mapping.items()))
        return _run(con, src, columns, mapping, time_format, ref, session_gap_minutes,
                    top_event_types, on_bad_rows, progress, started, work,
                    dedupe=not keep_duplicates, keep_rows=keep_rows, event_group=event_group)
    except duckdb.OutOfMemoryException as exc:
        raise DataError(f"DuckDB ran out of memory under memory_limit "
                        f"{limit} ({exc}); raise --memory-limit",
                        source=str(source)) from None
    finally:
        if own is not None:
            con.execute("USE memory")
            con.execute(f"DETACH {own}")
            if work.folder is not None:
                con.execute(f"DETACH DATABASE IF EXISTS {_work_name(work.folder)}")
        con.close()
        if work.folder is not None:
            shutil.rmtree(work.folder, ignore_errors=True)


def default_memory_limit() -> str:
    """Half the physical memory, as DuckDB reads it (e.g. ``'12GiB'``)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return "4GiB"
    return f"{max(1, total // 2 // 2**20)}MiB"


@dataclass
class _Work:
    """Where the event table may go: ``folder`` (made when first needed) is removed when
    from_events returns."""

    folder: str | None
    memory_bytes: int


def _size_bytes(size: str) -> int:
    """``'4GiB'`` -> bytes (the size is checked by :func:`_check_params`)."""
    match = _MEMORY_RE.match(size)
    assert match is not None, size
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def _check_params(on_bad_rows: str, gap: float, top: int, memory_limit: str | None,
                  threads: int | None, reference_date: Any) -> datetime | None:
    if on_bad_rows not in ("error", "skip"):
        raise ConfigError("The 'on_bad_rows' parameter must be one of ['error', 'skip']. "
                          f"Got {on_bad_rows!r} instead.")
    if isinstance(gap, bool) or not isinstance(gap, (int, float)) or not gap > 0:
        raise ConfigError("The 'session_gap_minutes' parameter must be a number > 0. "
                          f"Got {gap!r} instead.")
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ConfigError(f"The 'top_event_types' parameter must be an int >= 1. Got {top!r} "
                          "instead.")
    if memory_limit is not None and not _MEMORY_RE.match(str(memory_limit)):
        raise ConfigError("The 'memory_limit' parameter must be a size such as '4GB' or "
                          f"'512MiB'. Got {memory_limit!r} instead.")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 1):
        raise ConfigError(f"The 'threads' parameter must be an int >= 1. Got {threads!r} instead.")
    return _parse_reference(reference_date)


def _parse_reference(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        stamp = value
    elif isinstance(value, date):
        stamp = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            stamp = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ConfigError("The 'reference_date' parameter must be an ISO date such as "
                              f"'2011-01-01'. Got {value!r} instead.") from None
    else:
        raise ConfigError("The 'reference_date' parameter must be a date, a datetime or an ISO "
                          f"string. Got {type(value).__name__} instead.")
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(UTC).replace(tzinfo=None)
    return stamp


def _step(progress: Progress | None, message: str) -> None:
    logger.info(message)
    if progress is not None:
        progress(message)


def _run(con: Any, src: Source, columns: dict[str, str], mapping: dict[str, str],
         time_format: str | None, ref: datetime | None, gap: float, top: int,
         on_bad_rows: str, progress: Progress | None, started: float, work: _Work,
         dedupe: bool = True, keep_rows: bool = False,
         event_group: str | None = None) -> EventFeatures:
    candidates = extra_candidates(columns, mapping)
    typed = _typed_sql(src, columns, mapping, time_format, candidates)
    con.execute(f"CREATE TEMP VIEW typed AS {typed}")
    numbers: list[str] = [r for r in ("value", "quantity", "price") if r in mapping]
    # a --time-format reads the text itself: no offset column is made (see _typed_sql)
    has_offsets = time_format is None and \
        offset_expr(mapping["time"], columns[mapping["time"]]) is not None
    _step(progress, "checking rows")
    stats = _stats(con, numbers, has_offsets, ref, len(candidates))
    if stats["rows"] == 0:
        raise DataError("the event log is empty: no rows", source=src.label)
    bad_total = stats["bad_time"] + sum(stats[f"bad_{r}"] for r in numbers)
    if bad_total and on_bad_rows == "error":
        _refuse_bad_rows(con, src, mapping, numbers, stats)
    if stats["good"] == 0:
        raise DataError(f"no usable events: {stats['missing_user']:,} of {stats['rows']:,} rows "
                        f"have no user id and {bad_total:,} have bad values",
                        source=src.label, column=mapping["user"])
    reference = ref or datetime.combine(stats["max_ts"].date(), datetime.min.time()) + \
        timedelta(days=1)
    if stats["good"] - stats["after_ref"] == 0:
        raise DataError(f"no events on or before the reference date {reference}",
                        source=src.label)
    if stats["missing_user"]:
        logger.warning("%s rows without a user id dropped", stats["missing_user"])
    _step(progress, "keeping each event once")
    plan = events_sql.Plan(mapping=mapping, reference=reference, gap_minutes=float(gap),
                           date_only=bool(stats["date_only"]), dedupe=dedupe,
                           extras=events_sql.numeric_extras(candidates, stats))
    _choose_store(con, work, stats["good"], len(events_sql.event_columns(plan)))
    if keep_rows:  # the rows come back in the file's order: ties in time keep it
        con.execute("SET preserve_insertion_order = true")
    con.execute(events_sql.events_table_sql(plan))
    con.execute(events_sql.sequence_sql(plan))
    if dedupe:
        _drop_duplicates(con, plan, in_place=keep_rows)
    kept = con.execute("SELECT count(*) FROM ev").fetchone()[0]
    counts = events_sql.event_counts(con) if "event" in mapping else []
    groups = events_sql.group_labels(counts, event_group, top)
    events_sql.apply_groups(con, groups)  # the rows, shares and journeys speak of kinds
    counts = events_sql.grouped_counts(counts, groups)
    rows = _kept_rows(con, mapping) if keep_rows else None
    types = events_sql.top_event_types(counts, top)
    plan = events_sql.with_purchase_types(con, plan, [name for name, _ in counts])
    _step(progress, f"computing features for {kept:,} events")
    frame, meanings = events_sql.features(con, plan, types)
    offsets = tuple(sorted(stats.get("offsets") or ()))
    notes = _notes(plan, stats, offsets, bad_total, numbers)
    report = EventReport(
        source=src.label, mapping=dict(mapping), rows_read=stats["rows"],
        missing_user=stats["missing_user"], bad_time=stats["bad_time"],
        bad_numbers={r: stats[f"bad_{r}"] for r in numbers},
        bad_rows_skipped=stats["bad_rows"] if bad_total else 0, after_reference=stats["after_ref"],
        duplicates_removed=stats["good"] - stats["after_ref"] - kept, rows_used=kept,
        users=len(frame), reference_date=reference, first_event=stats["min_ts"],
        last_event=stats["max_ts"], time_offsets=offsets,
        times_without_offset=stats.get("naive", 0) if offsets else 0,
        date_only=plan.date_only,
        sessions_from="none" if plan.date_only else ("column" if "session" in mapping
                                                     else "gap"),
        session_gap_minutes=float(gap), event_types=tuple(t for t in types if t is not None),
        seconds=round(clock.perf_counter() - started, 3),
        notes=notes + ((groups.described,) if groups.described else ()),
        purchases=purchase_evidence(plan), event_group=groups.rule,
    )
    _step(progress, f"done: {len(frame):,} users, {len(frame.columns) - 1} features")
    return EventFeatures(frame=frame, report=report, meanings=meanings, rows=rows)


def purchase_evidence(plan: events_sql.Plan) -> str:
    """Why the log counts as holding purchases, or "" when it does not: purchase-like event
    types, else a money or order column (value, price, quantity, order)."""
    if plan.purchase_types:
        return "event types " + ", ".join(repr(t) for t in plan.purchase_types)
    columns = [plan.mapping[role] for role in ("value", "price", "quantity", "order")
               if role in plan.mapping]
    return ("columns " if len(columns) > 1 else "column ") + ", ".join(
        repr(c) for c in columns) if columns else ""


def _kept_rows(con: Any, mapping: dict[str, str]) -> pd.DataFrame:
    """``ev``'s mapped columns under the log's own names, in insertion order."""
    named = {"user": "user_id", "time": "ts", "order": "ord"}
    parts = [f"{named.get(role, role)} AS {quote_ident(column)}"
             for role, column in mapping.items()]
    return con.execute(f"SELECT {', '.join(parts)} FROM ev").df()


def _choose_store(con: Any, work: _Work, rows: int, columns: int) -> None:
    """Put the tables in a compressed database file when they would crowd memory.

    DuckDB keeps in-memory tables uncompressed (up to 16 bytes a value); past the memory
    limit they spill, and every later pass reads them back from disk while the window and
    the aggregates fight them for memory. Compressed, they take a fraction of that (100M
    generated events: 6 GiB plain, under 2 GiB compressed). Compressing costs more than
    it saves on logs that fit, so only then.
    """
    if rows * columns * 16 <= work.memory_bytes // 2:
        return
    if work.folder is None:
        work.folder = tempfile.mkdtemp(prefix="personae-duckdb-")
    name = _work_name(work.folder)
    con.execute(f"ATTACH {quote_literal(os.path.join(work.folder, 'events.duckdb'))} AS {name}")
    con.execute(f"USE {name}")  # tables created from here on go to the file


def _work_name(folder: str) -> str:
    """The file database's name: unique per call, as calls may share a database."""
    return quote_ident(f"work_{os.path.basename(folder)}")


def _drop_duplicates(con: Any, plan: events_sql.Plan, in_place: bool = False) -> None:
    """``in_place``: delete the copies (the rest keep their order) even where a DISTINCT
    over the table would be cheaper."""
    tied, rows = con.execute("SELECT sum(len(tied)), (SELECT count(*) FROM ev) "
                             "FROM seq").fetchone()
    if not tied:
        return  # no two events of a user at the same time: nothing can be a duplicate
    if tied > _DISTINCT_SHARE * rows and not in_place:
        con.execute(events_sql.distinct_table_sql())
    else:
        con.execute(events_sql.duplicates_sql(plan))


def _typed_sql(src: Source, columns: dict[str, str], mapping: dict[str, str],
               time_format: str | None, candidates: list[str] = ()) -> str:  # type: ignore[assignment]
    def col(role: str) -> tuple[str, str]:
        return mapping[role], columns[mapping[role]]

    parts = [f"{user_expr(*col('user'))} AS user_id",
             f"{time_expr(*col('time'), time_format)} AS ts",
             f"{raw_is_set(*col('time'))} AS ts_given"]
    offset = offset_expr(*col("time"))
    if offset is not None and time_format is None:
        parts.append(f"{offset} AS ts_offset")
    for role in ("value", "quantity", "price"):
        if role in mapping:
            parts.append(f"{number_expr(*col(role))} AS {role}")
            parts.append(f"{raw_is_set(*col(role))} AS {role}_given")
    for role, name in (("event", "event"), ("session", "session"), ("item", "item"),
                       ("category", "category"), ("order", "ord")):
        if role in mapping:
            as_sql = id_expr if role in ("session", "item") else text_expr
            parts.append(f"{as_sql(*col(role))} AS {name}")
    for i, column in enumerate(candidates):
        typed = events_sql.extra_typed_name(i)
        parts.append(f"{number_expr(column, columns[column])} AS {typed}")
        parts.append(f"{raw_is_set(column, columns[column])} AS {typed}_given")
    return f"SELECT {', '.join(parts)} FROM {src.relation}"


def _stats(con: Any, numbers: list[str], has_offsets: bool, ref: datetime | None,
           extras: int = 0) -> dict:
    bad_num = " OR ".join(f"({r}_given AND {r} IS NULL)" for r in numbers) or "false"
    good = f"user_id IS NOT NULL AND ts IS NOT NULL AND NOT ({bad_num})"
    ref_sql = f"TIMESTAMP '{ref.isoformat(sep=' ')}'" if ref else "NULL"
    items = {
        "rows": "count(*)",
        "missing_user": "count(*) FILTER (user_id IS NULL)",
        "bad_time": "count(*) FILTER (user_id IS NOT NULL AND ts IS NULL)",
        "bad_rows": f"count(*) FILTER (user_id IS NOT NULL AND NOT ({good}))",
        "good": f"count(*) FILTER ({good})",
        "after_ref": f"coalesce(count(*) FILTER ({good} AND ts > {ref_sql}), 0)",
        "min_ts": f"min(ts) FILTER ({good})",
        "max_ts": f"max(ts) FILTER ({good})",
        "date_only": f"coalesce(bool_and(ts = date_trunc('day', ts)) FILTER ({good}), false)",
    }
    for r in numbers:
        items[f"bad_{r}"] = f"count(*) FILTER (user_id IS NOT NULL AND {r}_given AND {r} IS NULL)"
    for i in range(extras):  # which of the log's other columns hold numbers
        x = events_sql.extra_typed_name(i)
        items[f"{x}_given"] = f"count(*) FILTER ({good} AND {x}_given)"
        items[f"{x}_bad"] = f"count(*) FILTER ({good} AND {x}_given AND {x} IS NULL)"
    if has_offsets:
        items["offsets"] = f"list(DISTINCT ts_offset) FILTER ({good} AND ts_offset <> '')"
        items["naive"] = f"count(*) FILTER ({good} AND ts_offset = '')"
    sql = "SELECT " + ", ".join(f"{v} AS {k}" for k, v in items.items()) + " FROM typed"
    row = con.execute(sql).fetchone()
    return dict(zip(items, row, strict=True))


def _refuse_bad_rows(con: Any, src: Source, mapping: dict[str, str], numbers: list[str],
                     stats: dict) -> None:
    roles = ["time"] + [r for r in numbers if stats[f"bad_{r}"]] if stats["bad_time"] else \
        [r for r in numbers if stats[f"bad_{r}"]]
    role = roles[0]
    column = mapping[role]
    condition = ("ts IS NULL" if role == "time" else f"({role}_given AND {role} IS NULL)")
    count = stats["bad_time"] if role == "time" else stats[f"bad_{role}"]
    con.execute("SET threads = 1")  # row numbers in file order
    rows = con.execute(
        f"SELECT n, raw FROM (SELECT row_number() OVER () AS n, {quote_ident(column)} AS raw, "
        f"* FROM {src.relation}) AS r WHERE n IN (SELECT n FROM (SELECT row_number() OVER () "
        f"AS n, t.* FROM typed AS t) WHERE user_id IS NOT NULL AND {condition}) ORDER BY n "
        f"LIMIT {_SHOW_BAD}").fetchall()
    shown = ", ".join(f"row {n}: {raw!r}" for n, raw in rows)
    what = "a time that does not parse (or no time)" if role == "time" else \
        "a value that is not a number"
    others = [r for r in roles[1:]]
    extra = f"; also bad: {', '.join(others)}" if others else ""
    raise DataError(
        f"{count:,} rows have {what} (first: {shown}){extra}; fix them, give time_format "
        "(--time-format), or skip them with on_bad_rows='skip' (--on-bad-rows skip)",
        source=src.label, column=column, row=rows[0][0] if rows else None)


def _notes(plan: events_sql.Plan, stats: dict, offsets: tuple[str, ...], bad_total: int,
           numbers: list[str]) -> tuple[str, ...]:
    notes = []
    if bad_total:
        per = ", ".join([f"time: {stats['bad_time']:,}"] +
                        [f"{r}: {stats[f'bad_{r}']:,}" for r in numbers])
        notes.append(f"skipped {stats['bad_rows']:,} bad rows ({per})")
    if offsets:
        notes.append(f"times carry UTC offsets {', '.join(offsets)}: converted to UTC; "
                     f"{stats.get('naive', 0):,} times without an offset read as UTC")
    if not plan.dedupe:
        notes.append("identical rows kept as separate events (keep_duplicates): not checked")
    if plan.date_only:
        notes.append("times are dates only: session and time-of-day features left out")
    if plan.value_from:
        notes.append(f"value = {plan.value_from}")
    if plan.extras:
        notes.append("the log's own numbers, per user as <column>_sum and <column>_mean: "
                     + ", ".join(repr(column) for column, _ in plan.extras))
    return tuple(notes)


def write_features(features: EventFeatures | pd.DataFrame, path: str | Path) -> Path:
    """Write the features to .parquet or .csv through a temporary file: never half-written."""
    frame = features.frame if isinstance(features, EventFeatures) else features
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise ConfigError(f"The output path must end in .parquet or .csv. Got {str(target)!r}.")
    if not target.parent.exists():
        raise DataError("output folder does not exist", source=str(target.parent))
    with atomic_file(target) as temporary:
        if suffix == ".parquet":
            frame.to_parquet(temporary, index=False)
        else:
            frame.to_csv(temporary, index=False)
    return target



def event_steps(source: Any, mapping: dict[str, str], *, table: str | None = None,
                time_format: str | None = None) -> pd.DataFrame | None:
    """``user``, ``time``, ``event`` of every event (for journeys), read by DuckDB from any
    source ``from_events`` accepts; None when the log has no event column."""
    if not {"user", "time", "event"} <= set(mapping):
        return None
    roles = {role: mapping[role] for role in ("user", "time", "event")}
    return steps_of(event_rows(source, roles, table=table, time_format=time_format), roles)


def steps_of(rows: pd.DataFrame, mapping: dict[str, str]) -> pd.DataFrame | None:
    """``event_steps`` from rows ``event_rows`` read: the event as trimmed text (empty =
    none, as ``text_expr`` reads it); None when the log has no event column."""
    if not {"user", "time", "event"} <= set(mapping):
        return None
    text = rows[mapping["event"]].astype("string").str.strip()
    keep = (text.notna() & text.ne("").fillna(False)).to_numpy(dtype=bool)
    return pd.DataFrame({"user": rows[mapping["user"]].to_numpy(),
                         "time": rows[mapping["time"]].to_numpy(),
                         "event": text.astype(object).where(keep, None).to_numpy()})


def event_rows(source: Any, mapping: dict[str, str], *, table: str | None = None,
               time_format: str | None = None) -> pd.DataFrame:
    """The mapped columns of every event, read by DuckDB from any source ``from_events``
    accepts, under their own names: the user id and the time typed as ``from_events``
    types them (so ids join to its output, and ``time_format`` and offsets are honoured),
    the other columns as stored (``from_events`` types them when it reads this frame)."""
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        src = resolve_source(con, source, table)
        columns = describe(con, src)
        missing = sorted(set(mapping.values()) - set(columns))
        if missing:
            raise DataError(f"columns {missing} of the mapping are missing; columns are "
                            f"{sorted(columns)}", source=src.label)
        parts = []
        for role, name in mapping.items():
            if role == "user":
                parts.append(f"{user_expr(name, columns[name])} AS {quote_ident(name)}")
            elif role == "time":
                parts.append(f"{time_expr(name, columns[name], time_format)} AS "
                             f"{quote_ident(name)}")
            else:
                parts.append(quote_ident(name))
        return con.execute(f"SELECT {', '.join(parts)} FROM {src.relation}").df()
    finally:
        con.close()
