"""The per-user aggregation of :func:`personae.features.events_sql.features`, in Spark SQL.

Each feature below carries the same name, unit and edge rule as its DuckDB twin; where
the SQL differs it is only a dialect: ``FILTER (WHERE ...)``, ``dayofweek`` counting
Sunday as 1 (DuckDB: 0), ``unix_micros`` differences for ``datediff('microsecond')``,
``percentile(x, 0.5)`` for DuckDB's interpolated ``median``.
"""

from __future__ import annotations

from typing import Any

from personae.features import events_sql
from personae.features.events_io import sanitise
from personae.features.semantics import BUILTIN, FeatureMeaning
from personae.spark.events_read import lit


def _in(column: str, values: tuple[str, ...] | list[str]) -> str:
    return f"{column} IN ({', '.join(lit(v) for v in values)})"


def is_return(plan: events_sql.Plan) -> str:
    parts = []
    if plan.has("quantity"):
        parts.append("coalesce(quantity < 0, false)")
    if plan.has("value"):
        parts.append("coalesce(value < 0, false)")
    if plan.cancel_prefix:
        parts.append("coalesce(ord RLIKE '^C[0-9].*$', false)")
    if plan.return_types:
        parts.append(f"coalesce({_in('event', plan.return_types)}, false)")
    return " OR ".join(parts) or "false"


def is_purchase(plan: events_sql.Plan) -> str:
    if not plan.purchase_types:
        return "true"
    return f"coalesce({_in('event', plan.purchase_types)}, false)"


def _days(start: str, end: str) -> str:
    return f"((unix_micros({end}) - unix_micros({start})) / 8.64e10)"


def _session_frames(ev: Any, plan: events_sql.Plan) -> Any:
    """user_id, session_count, session_minutes_median."""
    if plan.has("session"):
        per = ev.groupBy("user_id", "session").agg(
            _e("(max(unix_micros(ts)) - min(unix_micros(ts))) / 6e7").alias("minutes"))
    else:
        gap_us = int(round(plan.gap_minutes * 60_000_000))
        from pyspark.sql import Window

        w = Window.partitionBy("user_id").orderBy("ts")
        run = w.rowsBetween(Window.unboundedPreceding, Window.currentRow)
        from pyspark.sql import functions as F

        starts = ev.select("user_id", "ts").withColumn("prev", F.lag("ts").over(w)) \
            .withColumn("start", _e(f"CASE WHEN prev IS NULL OR unix_micros(ts) - "
                                    f"unix_micros(prev) >= {gap_us} THEN 1 ELSE 0 END")) \
            .withColumn("sid", F.sum("start").over(run))
        per = starts.groupBy("user_id", "sid").agg(
            _e("(max(unix_micros(ts)) - min(unix_micros(ts))) / 6e7").alias("minutes"))
    return per.groupBy("user_id").agg(
        _e("count(*)").alias("session_count"),
        _e("percentile(minutes, 0.5)").alias("session_minutes_median"))


def _e(sql: str) -> Any:
    from pyspark.sql import functions as F

    return F.expr(sql)


def feature_frame(ev: Any, plan: events_sql.Plan, types: list[str | None], ref: str
                  ) -> tuple[Any, dict[str, FeatureMeaning]]:
    """The per-user features of ``ev`` (one row per user, ordered by user_id)."""
    timed = not plan.date_only
    ret, pur = f"({is_return(plan)})", f"({is_purchase(plan)})"
    bought = f"({pur} AND NOT {ret})"
    agg = {
        "first_ts": "min(ts)", "last_ts": "max(ts)",
        "last_purchase": f"max(ts) FILTER (WHERE {bought})",
        "event_count": "count(*)",
        "purchase_lines": f"count(*) FILTER (WHERE {bought})",
        "n_returns": f"count(*) FILTER (WHERE {ret})",
        "n_weekend": "count(*) FILTER (WHERE dayofweek(ts) IN (1, 7))",
        "n_last30": f"count(*) FILTER (WHERE ts > {ref} - INTERVAL 30 DAYS)",
        "n_prev30": f"count(*) FILTER (WHERE ts > {ref} - INTERVAL 60 DAYS AND "
                    f"ts <= {ref} - INTERVAL 30 DAYS)",
        # active days: the events on another date than the previous one, i.e. the dates
        "active_days": "count(DISTINCT to_date(ts))",
    }
    if plan.has("order"):
        agg["frequency"] = f"count(DISTINCT CASE WHEN {bought} THEN ord END)"
    if plan.value_from:
        agg["money"] = f"coalesce(sum(value) FILTER (WHERE {pur}), 0)"
    if plan.has("quantity"):
        agg["qty"] = f"coalesce(sum(quantity) FILTER (WHERE {bought}), 0)"
    named = [t for t in types if t is not None]
    for i, t in enumerate(named):
        agg[f"n_type_{i}"] = f"count(*) FILTER (WHERE event = {lit(t)})"
    if plan.has("event"):
        other = f"event IS NULL OR NOT ({_in('event', named)})" if named else "event IS NULL"
        agg["n_type_other"] = f"count(*) FILTER (WHERE {other})"
    agg.update(events_sql.extra_aggregates(plan))
    if timed:
        agg.update({f"n_h{i}": f"count(*) FILTER (WHERE hour(ts) = {i})" for i in range(24)})
    base = ev.groupBy("user_id").agg(*[_e(v).alias(k) for k, v in agg.items()])

    joined = base
    if not plan.has("order"):
        pdays = ev.where(bought).groupBy("user_id").agg(
            _e("count(DISTINCT to_date(ts))").alias("purchase_days"))
        joined = joined.join(pdays, "user_id", "left")
    if timed:
        joined = joined.join(_session_frames(ev, plan), "user_id", "left")
    if plan.has("item"):
        items = ev.where("item IS NOT NULL").groupBy("user_id").agg(
            _e("count(DISTINCT item)").alias("distinct_items"))
        joined = joined.join(items, "user_id", "left")
    if plan.has("category"):
        cats = ev.where("category IS NOT NULL").groupBy("user_id", "category").count() \
            .withColumnRenamed("count", "c")
        ent = cats.groupBy("user_id").agg(
            _e("count(*)").alias("distinct_categories"),
            _e("greatest(log2(sum(c)) - sum(c * log2(c)) / sum(c), 0)")
            .alias("category_entropy"))
        joined = joined.join(ent, "user_id", "left")

    cols, meanings = _columns(plan, named, ref)
    return joined.selectExpr(*cols).orderBy("user_id"), meanings


def _columns(plan: events_sql.Plan, named: list[str], ref: str
             ) -> tuple[list[str], dict[str, FeatureMeaning]]:
    timed = not plan.date_only
    frequency = "frequency" if plan.has("order") else "coalesce(purchase_days, 0)"
    tenure = _days("first_ts", ref)
    freq_div = f"CASE WHEN {frequency} > 0 THEN {frequency} ELSE NULL END"
    cols = ["user_id",
            f"{_days('coalesce(last_purchase, first_ts)', ref)} AS recency_days",
            f"{frequency} AS frequency"]
    if plan.value_from:
        cols += ["CAST(money AS DOUBLE) AS monetary_total",
                 f"coalesce(money / {freq_div}, 0.0) AS monetary_mean"]
    cols.append(f"{tenure} AS tenure_days")
    if plan.has("order") or plan.has("quantity"):
        num = "qty" if plan.has("quantity") else "purchase_lines"
        cols.append(f"coalesce(CAST({num} AS DOUBLE) / {freq_div}, 0.0) AS items_per_order")
    cols += [
        "event_count", "active_days",
        "CAST(event_count AS DOUBLE) / active_days AS events_per_active_day",
        "CASE WHEN active_days > 1 THEN CAST(datediff(to_date(last_ts), to_date(first_ts)) "
        "AS DOUBLE) / (active_days - 1) ELSE NULL END AS days_between_visits",
    ]
    if timed:
        cols += ["session_count",
                 "coalesce(session_minutes_median, 0.0) AS session_minutes_median",
                 "CAST(event_count AS DOUBLE) / session_count AS events_per_session"]
    meanings: dict[str, FeatureMeaning] = {}
    used: set[str] = {"share_event_other"}  # the column of the types not named
    for i, t in enumerate(named):
        name = events_sql._unique(f"share_event_{sanitise(t)}", used)
        cols.append(f"CAST(n_type_{i} AS DOUBLE) / event_count AS `{name}`")
        meanings[name] = events_sql._type_meaning(name, t)
    if plan.has("event"):
        cols.append("CAST(n_type_other AS DOUBLE) / event_count AS share_event_other")
    if timed:
        for part, start in (("night", 0), ("morning", 6), ("afternoon", 12), ("evening", 18)):
            hours = " + ".join(f"n_h{i}" for i in range(start, start + 6))
            cols.append(f"CAST({hours} AS DOUBLE) / event_count AS share_{part}")
    cols.append("CAST(n_weekend AS DOUBLE) / event_count AS share_weekend")
    if timed:
        hist = ", ".join(f"n_h{i}" for i in range(24))
        # the first maximum: ties go to the earliest hour
        cols.append(f"CAST(array_position(array({hist}), greatest({hist})) - 1 AS INT) "
                    "AS peak_hour")
    if plan.has("item"):
        cols.append("coalesce(distinct_items, 0) AS distinct_items")
    if plan.has("category"):
        cols += ["coalesce(distinct_categories, 0) AS distinct_categories",
                 "coalesce(category_entropy, 0.0) AS category_entropy"]
    cols += ["n_last30 AS events_last_30d", "n_prev30 AS events_prev_30d",
             "CASE WHEN n_last30 + n_prev30 > 0 THEN CAST(n_last30 - n_prev30 AS DOUBLE) / "
             "(n_last30 + n_prev30) ELSE 0.0 END AS trend_30d",
             "CAST(n_returns AS DOUBLE) / event_count AS return_share"]
    extra, extra_meanings = events_sql.extra_columns(
        plan, used | set(BUILTIN), quote="`")
    return cols + extra, {**meanings, **extra_meanings}
