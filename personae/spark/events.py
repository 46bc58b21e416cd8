"""Event log -> per-user features in Spark SQL, with the embedded engine's definitions.

The stages and conventions are those of :mod:`personae.features.events` (read its module
docstring): the same typing, bad-row counts, reference date, exact-duplicate removal,
session gap, purchase and return rules, and the same feature names and units. Only the
plan of work differs: Spark removes duplicates with one ``dropDuplicates`` (a shuffle by
all mapped columns) and cuts sessions with a window per user in time order.
"""

from __future__ import annotations

import logging
import re
import time as clock
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from personae.config import EVENT_ROLES, EventsConfig, build
from personae.errors import ConfigError, DataError
from personae.features import events_sql
from personae.features.events import EventFeatures, EventReport, purchase_evidence
from personae.features.events_io import extra_candidates, map_columns
from personae.spark import events_read as rd
from personae.spark.errors import spark_errors
from personae.spark.events_sql import feature_frame
from personae.spark.session import spark_session, to_pandas

logger = logging.getLogger(__name__)

_SHOW_BAD = 5
_ROLES = ("user", "time", "event", "value", "quantity", "price", "session", "item",
          "category", "order")


@dataclass(frozen=True)
class SparkFeatures:
    """The features as a (cached) Spark DataFrame, ordered by user_id, and the report."""

    frame: Any
    report: EventReport
    meanings: dict[str, Any]


def from_events(source: Any, *, spark: Any = None, master: str | None = None,
                spark_conf: dict[str, str] | None = None, events: EventsConfig | None = None,
                **options: Any) -> EventFeatures:
    """:func:`personae.features.events.from_events` computed by Spark; the frame comes back
    to the driver as pandas (use :func:`write_events_features` when it would not fit).
    ``events``: how the log is read, an EventsConfig; or ``options``, those of the embedded
    ``from_events`` (the roles, ``time_format``, ``reference_date``...) read into one.

    ``spark``: a SparkSession to use (left running); otherwise one is started on
    ``master`` (default ``local[*]``) with the settings ``spark_conf`` over personae's
    (:func:`personae.spark.session.session_conf`) and stopped before returning.
    """
    events = events_config(events, options, "personae.spark.from_events()")
    with spark_session(spark, master, spark_conf) as session:
        result = compute(session, source, events)
        with spark_errors(result.report.source):
            frame = to_pandas(result.frame)
        result.frame.unpersist()
    return EventFeatures(frame=frame, report=result.report, meanings=result.meanings)


def write_events_features(source: Any, out: str | Path, *, spark: Any = None,
                          master: str | None = None, spark_conf: dict[str, str] | None = None,
                          events: EventsConfig | None = None, **options: Any) -> EventReport:
    """Compute the features in Spark and write them to ``out`` (.parquet or .csv, one file)
    without collecting them to the driver; returns the report. ``spark``, ``master``,
    ``spark_conf``, ``events``, ``options``: as in :func:`from_events`."""
    from personae.spark.output import write_single_file

    target = Path(out)
    events = events_config(events, options, "personae.spark.write_events_features()")
    with spark_session(spark, master, spark_conf) as session:
        result = compute(session, source, events)
        with spark_errors(result.report.source):
            write_single_file(result.frame, target)
        result.frame.unpersist()
    return result.report


def events_config(events: EventsConfig | None, options: dict[str, Any],
                  where: str) -> EventsConfig:
    """``events``, or the keywords of ``from_events`` (roles as keywords, a date or a string
    for the reference date) as the EventsConfig that :func:`compute` takes."""
    if events is not None:
        if options:
            raise ConfigError(f"{where}: give events (an EventsConfig) or keyword options, "
                              f"not both; got {sorted(options)}")
        return events
    settings = {key: value for key, value in options.items() if key not in EVENT_ROLES}
    if isinstance(settings.get("reference_date"), date):
        settings["reference_date"] = settings["reference_date"].isoformat()
    mapping = {role: column for role, column in options.items()
               if role in EVENT_ROLES and column is not None}
    return build(EventsConfig, {"mapping": mapping, **settings}, where)


def compute(spark: Any, source: Any, events: EventsConfig) -> SparkFeatures:
    """The features on ``spark`` (a running session), lazily but cached, read as ``events``
    says (DuckDB's own settings, table, memory_limit and threads, are not Spark's)."""
    from personae.features.events import _check_params

    started = clock.perf_counter()
    ref = _check_params(events.on_bad_rows, events.session_gap_minutes,
                        events.top_event_types, None, None, events.reference_date)
    raw, label = rd.read_source(spark, source)
    with spark_errors(label):
        kinds = rd.dtype_names(raw)
        given = {role: events.mapping.get(role) for role in _ROLES}
        mapping = map_columns(kinds, given, label)
        logger.info("mapped columns: %s", ", ".join(f"{k}={v}" for k, v in mapping.items()))
        return _run(spark, raw, label, kinds, mapping, events.time_format, ref,
                    float(events.session_gap_minutes), events.top_event_types,
                    events.on_bad_rows, started, not events.keep_duplicates,
                    events.event_group)


def _micros(stamp: datetime) -> int:
    return int((stamp.replace(tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC))
               / timedelta(microseconds=1))


def _from_micros(value: int | None) -> datetime | None:
    if value is None:
        return None
    return datetime(1970, 1, 1) + timedelta(microseconds=int(value))


def _run(spark: Any, raw: Any, label: str, kinds: dict[str, str], mapping: dict[str, str],
         time_format: str | None, ref: datetime | None, gap: float, top: int,
         on_bad_rows: str, started: float, dedupe: bool,
         event_group: str | None = None) -> SparkFeatures:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    candidates = extra_candidates(kinds, mapping)
    typed = raw.selectExpr(*rd.typed_columns(kinds, mapping, time_format, candidates))
    numbers = [r for r in ("value", "quantity", "price") if r in mapping]
    has_offsets = "ts_offset" in typed.columns
    logger.info("checking rows")
    stats = _stats(typed, numbers, has_offsets, ref, len(candidates))
    if stats["rows"] == 0:
        raise DataError("the event log is empty: no rows", source=label)
    bad_total = stats["bad_time"] + sum(stats[f"bad_{r}"] for r in numbers)
    if bad_total and on_bad_rows == "error":
        _refuse_bad_rows(raw, kinds, mapping, numbers, stats, label, time_format)
    if stats["good"] == 0:
        raise DataError(f"no usable events: {stats['missing_user']:,} of {stats['rows']:,} rows "
                        f"have no user id and {bad_total:,} have bad values",
                        source=label, column=mapping["user"])
    max_ts = _from_micros(stats["max_ts"])
    assert max_ts is not None
    reference = ref or datetime.combine(max_ts.date(), datetime.min.time()) + timedelta(days=1)
    if stats["good"] - stats["after_ref"] == 0:
        raise DataError(f"no events on or before the reference date {reference}", source=label)
    if stats["missing_user"]:
        logger.warning("%s rows without a user id dropped", stats["missing_user"])
    plan = events_sql.Plan(mapping=mapping, reference=reference, gap_minutes=gap,
                           date_only=bool(stats["date_only"]), dedupe=dedupe,
                           extras=events_sql.numeric_extras(candidates, stats))
    logger.info("keeping each event once")
    ref_sql = f"timestamp_micros({_micros(reference)})"
    ev = typed.where(f"{events_sql.good_rows_sql(numbers)} AND ts <= {ref_sql}") \
        .selectExpr(*events_sql.event_columns(plan))
    if dedupe:
        ev = ev.dropDuplicates()
    ev = ev.persist(StorageLevel.MEMORY_AND_DISK)
    # one pass: the events kept, per event type, and how many order ids look like C123
    by_type = ev.groupBy("event" if "event" in mapping else F.lit(None).alias("event")).agg(
        F.count("*").alias("n"),
        *([F.expr("count(ord)").alias("orders"),
           F.expr("count(*) FILTER (WHERE ord RLIKE '^C[0-9].*$')").alias("c_orders")]
          if "order" in mapping else [])).collect()
    kept = sum(int(r["n"]) for r in by_type)
    counts = [(r["event"], int(r["n"])) for r in by_type if r["event"] is not None]
    groups = events_sql.group_labels(counts, event_group, top)
    if groups.kinds:  # the shares speak of kinds, as the embedded engine's do
        kinds = spark.createDataFrame(sorted(groups.kinds.items()), "event string, kind string")
        grouped = ev.join(F.broadcast(kinds), "event", "left") \
            .withColumn("event", F.coalesce("kind", "event")).select(*ev.columns)
        grouped = grouped.persist(StorageLevel.MEMORY_AND_DISK)
        ev.unpersist()
        ev = grouped
    counts = events_sql.grouped_counts(counts, groups)
    types = events_sql.top_event_types(counts, top)
    share = None
    if "order" in mapping:
        orders = sum(int(r["orders"]) for r in by_type)
        share = sum(int(r["c_orders"]) for r in by_type) / orders if orders else None
    plan = _with_purchase_types(plan, [name for name, _ in counts], share)
    logger.info("computing features for %s events", f"{kept:,}")
    frame, meanings = feature_frame(ev, plan, types, ref_sql)
    frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
    optional = [c for c in events_sql.OPTIONAL if c in frame.columns]
    row = frame.selectExpr("count(*) AS users",
                           *[f"max({c}) AS {c}" for c in optional]).first()
    users = int(row["users"])
    empty = [c for c in optional if row[c] is None or not row[c] > 0]
    if empty:
        frame = frame.drop(*empty)  # nothing of the kind in this log
    ev.unpersist()
    from personae.features.events import _notes

    offsets = tuple(sorted(stats.get("offsets") or ()))
    report = EventReport(
        source=label, mapping=dict(mapping), rows_read=stats["rows"],
        missing_user=stats["missing_user"], bad_time=stats["bad_time"],
        bad_numbers={r: stats[f"bad_{r}"] for r in numbers},
        bad_rows_skipped=stats["bad_rows"] if bad_total else 0,
        after_reference=stats["after_ref"],
        duplicates_removed=stats["good"] - stats["after_ref"] - kept, rows_used=kept,
        users=users, reference_date=reference, first_event=_from_micros(stats["min_ts"]),
        last_event=max_ts, time_offsets=offsets,
        times_without_offset=stats.get("naive", 0) if offsets else 0,
        date_only=plan.date_only,
        sessions_from="none" if plan.date_only else ("column" if "session" in mapping
                                                     else "gap"),
        session_gap_minutes=gap, event_types=tuple(t for t in types if t is not None),
        seconds=round(clock.perf_counter() - started, 3),
        notes=(*_notes(plan, stats, offsets, bad_total, numbers),
               *((groups.described,) if groups.described else ()), "engine: Spark"),
        event_group=groups.rule, purchases=purchase_evidence(plan),
    )
    logger.info("done: %s users, %d features", f"{users:,}", len(frame.columns) - 1)
    return SparkFeatures(frame=frame, report=report, meanings=meanings)


def _stats(typed: Any, numbers: list[str], has_offsets: bool, ref: datetime | None,
           extras: int = 0) -> dict:
    bad_num = " OR ".join(f"({r}_given AND {r} IS NULL)" for r in numbers) or "false"
    good = f"user_id IS NOT NULL AND ts IS NOT NULL AND NOT ({bad_num})"
    ref_sql = f"timestamp_micros({_micros(ref)})" if ref else "CAST(NULL AS TIMESTAMP)"
    items = {
        "rows": "count(*)",
        "missing_user": "count(*) FILTER (WHERE user_id IS NULL)",
        "bad_time": "count(*) FILTER (WHERE user_id IS NOT NULL AND ts IS NULL)",
        "bad_rows": f"count(*) FILTER (WHERE user_id IS NOT NULL AND NOT ({good}))",
        "good": f"count(*) FILTER (WHERE {good})",
        "after_ref": f"count(*) FILTER (WHERE {good} AND ts > {ref_sql})",
        "min_ts": f"min(unix_micros(ts)) FILTER (WHERE {good})",
        "max_ts": f"max(unix_micros(ts)) FILTER (WHERE {good})",
        "date_only": f"coalesce(bool_and(ts = date_trunc('DAY', ts)) FILTER (WHERE {good}), "
                     "false)",
    }
    for r in numbers:
        items[f"bad_{r}"] = (f"count(*) FILTER (WHERE user_id IS NOT NULL AND {r}_given AND "
                             f"{r} IS NULL)")
    for i in range(extras):  # which of the log's other columns hold numbers
        x = events_sql.extra_typed_name(i)
        items[f"{x}_given"] = f"count(*) FILTER (WHERE {good} AND {x}_given)"
        items[f"{x}_bad"] = f"count(*) FILTER (WHERE {good} AND {x}_given AND {x} IS NULL)"
    if has_offsets:
        items["offsets"] = (f"collect_set(ts_offset) FILTER (WHERE {good} AND "
                            "ts_offset <> '')")
        items["naive"] = f"count(*) FILTER (WHERE {good} AND ts_offset = '')"
    row = typed.selectExpr(*[f"{v} AS {k}" for k, v in items.items()]).first()
    out = {k: row[k] for k in items}
    for k in out:
        if k not in ("min_ts", "max_ts", "date_only", "offsets") and out[k] is None:
            out[k] = 0
    return out


def _refuse_bad_rows(raw: Any, kinds: dict[str, str], mapping: dict[str, str],
                     numbers: list[str], stats: dict, label: str,
                     time_format: str | None) -> None:
    roles = (["time"] if stats["bad_time"] else []) + [r for r in numbers if stats[f"bad_{r}"]]
    role = roles[0]
    column = mapping[role]
    user_ok = f"({rd.user_sql(mapping['user'], kinds[mapping['user']])}) IS NOT NULL"
    if role == "time":
        bad = f"({rd.time_sql(column, kinds[column], time_format)}) IS NULL"
        count = stats["bad_time"]
        what = "a time that does not parse (or no time)"
    else:
        bad = (f"{rd.is_set_sql(column, kinds[column])} AND "
               f"({rd.number_sql(column, kinds[column])}) IS NULL")
        count = stats[f"bad_{role}"]
        what = "a value that is not a number"
    shown = ", ".join(repr(r[0]) for r in raw.where(f"{user_ok} AND {bad}")
                      .select(rd.q(column)).limit(_SHOW_BAD).collect())
    extra = f"; also bad: {', '.join(roles[1:])}" if roles[1:] else ""
    raise DataError(
        f"{count:,} rows have {what} (first values: {shown}){extra}; fix them, give "
        "time_format (--time-format), or skip them with on_bad_rows='skip' "
        "(--on-bad-rows skip)", source=label, column=column)


def _with_purchase_types(plan: events_sql.Plan, names: list[str],
                         share: float | None) -> events_sql.Plan:
    """The rules of ``events_sql.with_purchase_types``; ``share``: of order ids like C123."""
    purchase: tuple[str, ...] = ()
    returns: tuple[str, ...] = ()
    if plan.has("event"):
        returns = tuple(sorted(n for n in names if re.search(events_sql.RETURN_RE, n.lower())))
        purchase = tuple(sorted(n for n in names if re.search(events_sql.PURCHASE_RE, n.lower())
                                and n not in returns))
    # a marker only when it is the exception: ids that all look like C123 are just ids
    cancel_prefix = plan.has("order") and share is not None and 0 < share < 0.5
    return replace(plan, purchase_types=purchase, return_types=returns,
                   cancel_prefix=cancel_prefix)
