"""The DuckDB SQL behind :func:`personae.features.events.from_events`.

Works on a view ``typed`` (one row per raw event, typed, see ``events._typed_sql``) and
writes a table ``ev`` (the good events), then one pass over each user's events in time
order (``seq``: sessions, active days and the rows that may be exact duplicates), removes
the duplicates from ``ev`` and aggregates ``ev`` per user.
The conventions each feature follows are written down in ``events.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import pandas as pd

from personae.errors import ConfigError
from personae.features.events_io import quote_literal, sanitise
from personae.features.semantics import (
    BUILTIN,
    FeatureMeaning,
    event_type_meaning,
    fallback_meaning,
)

PURCHASE_RE = r"purchase|buy|order|transaction|checkout|payment"
#: Features left out when no user has a value above 0: no returns, no unnamed event types,
#: no user who came on two days (a log of one day: no gap between visits to speak of).
OPTIONAL = ("return_share", "share_event_other", "days_between_visits")
RETURN_RE = r"return|cancel|refund"


@dataclass(frozen=True)
class Plan:
    """What the log offers, decided once; the SQL below follows it."""

    mapping: dict[str, str]
    reference: datetime
    gap_minutes: float
    date_only: bool
    purchase_types: tuple[str, ...] = ()
    return_types: tuple[str, ...] = ()
    cancel_prefix: bool = False
    dedupe: bool = True
    # the log's own numeric columns (column, name in the typed view), totalled per user
    extras: tuple[tuple[str, str], ...] = ()

    def has(self, role: str) -> bool:
        return role in self.mapping

    @property
    def value_from(self) -> str:
        if self.has("value"):
            return f"column {self.mapping['value']!r}"
        if self.has("quantity") and self.has("price"):
            return f"{self.mapping['quantity']!r} x {self.mapping['price']!r}"
        if self.has("price"):
            return f"column {self.mapping['price']!r} (one unit a line)"
        return ""

    @property
    def ref_sql(self) -> str:
        return f"TIMESTAMP '{self.reference.isoformat(sep=' ')}'"


def good_rows_sql(numbers: list[str]) -> str:
    bad = " OR ".join(f"({r}_given AND {r} IS NULL)" for r in numbers) or "false"
    return f"user_id IS NOT NULL AND ts IS NOT NULL AND NOT ({bad})"


def _key_columns(plan: Plan) -> list[str]:
    """The mapped columns: rows equal in all of them are exact duplicates."""
    numbers = [r for r in ("value", "quantity", "price") if plan.has(r)]
    return ["user_id", "ts"] + numbers + [n for r, n in (
        ("event", "event"), ("session", "session"), ("item", "item"),
        ("category", "category"), ("order", "ord")) if plan.has(r)] + \
        [typed for _, typed in plan.extras]


def event_columns(plan: Plan) -> list[str]:
    """The columns of ``ev``: the mapped ones, and ``value`` where it is computed."""
    cols = _key_columns(plan)
    if plan.value_from and not plan.has("value"):
        cols.append("quantity * price AS value" if plan.has("quantity") else "price AS value")
    return cols


def events_table_sql(plan: Plan) -> str:
    """``ev``: the good rows up to the reference date, duplicates still in.

    Removing exact duplicates up front takes a hash DISTINCT over every row and every
    column, the most expensive step of all on a big log. Duplicates share a user and a
    time, so the time-ordered pass in :func:`sequence_sql` finds the candidates and
    :func:`duplicates_sql` removes the extra copies afterwards.
    """
    numbers = [r for r in ("value", "quantity", "price") if plan.has(r)]
    return (f"CREATE TABLE ev AS SELECT {', '.join(event_columns(plan))} FROM typed "
            f"WHERE {good_rows_sql(numbers)} AND ts <= {plan.ref_sql}")


def sequence_sql(plan: Plan) -> str:
    """``seq``: one row per user from one window pass over ``ev`` in time order.

    Each event is compared with the one before it (``prev``), which gives:

    - active days: events on another date than the previous one;
    - sessions by gap: an event starts a session when it is the user's first or comes
      ``gap`` or more after the previous one; the previous event of a start is the last
      event of the session before, and the user's last event ends the last session;
    - duplicate candidates: events at the same time as the previous one, with that one.

    Exact duplicates share a time, so none of these changes when they are removed: the
    pass runs before they are removed, and on three narrow columns (user, time, rowid).
    """
    gap_us = int(round(plan.gap_minutes * 60_000_000))
    inner = ["user_id", "ts", "lag(ts) OVER w AS prev"]
    agg = ["count(*) FILTER (prev IS NULL OR CAST(prev AS DATE) <> CAST(ts AS DATE)) "
           "AS active_days"]
    if not plan.date_only and not plan.has("session"):
        agg += [
            f"list(ts ORDER BY ts) FILTER (prev IS NULL OR datediff('microsecond', prev, ts) "
            f">= {gap_us}) AS starts",
            # ends[i]: the event before start i + 1, the last of session i (a later start
            # has a later previous event, so both lists run in session order); one fewer
            # than starts: the last session ends at the user's last event
            f"list(prev ORDER BY prev) FILTER (datediff('microsecond', prev, ts) >= {gap_us}) "
            "AS ends",
            "max(ts) AS last_event",
        ]
    if plan.dedupe:
        inner += ["rid", "lag(rid) OVER w AS prev_rid"]
        agg += ["list(rid) FILTER (prev = ts) AS tied", "list(prev_rid) FILTER (prev = ts) "
                "AS tied_prev"]
    rid = ", rowid AS rid" if plan.dedupe else ""
    return (f"CREATE TABLE seq AS SELECT user_id, {', '.join(agg)} FROM (SELECT "
            f"{', '.join(inner)} FROM (SELECT user_id, ts{rid} FROM ev) "
            "WINDOW w AS (PARTITION BY user_id ORDER BY ts)) GROUP BY user_id")


def duplicates_sql(plan: Plan) -> str:
    """Delete every copy but one of each exact duplicate among the candidates in ``seq``."""
    keys = ", ".join(_key_columns(plan))
    return ("DELETE FROM ev WHERE rowid IN (SELECT rid FROM (SELECT rid, row_number() OVER "
            f"(PARTITION BY {keys}) AS copy FROM (SELECT rowid AS rid, {keys} FROM ev "
            "WHERE rowid IN (SELECT unnest(tied || tied_prev) FROM seq))) WHERE copy > 1)")


def distinct_table_sql() -> str:
    """``ev`` again, each row once: cheaper than :func:`duplicates_sql` when most rows are
    candidates (date-only times, or times in whole minutes with many events a minute)."""
    return "CREATE OR REPLACE TABLE ev AS SELECT DISTINCT * FROM ev"


def event_counts(con: Any) -> list[tuple[str, int]]:
    """Each event type with its number of events (one scan serves top types and purchases)."""
    return con.execute("SELECT event, count(*) FROM ev WHERE event IS NOT NULL "
                       "GROUP BY event").fetchall()


#: The built-in grouping rule: a label's kind is the label without its trailing numbered
#: parts (``Deeds_Es_4_5`` -> ``Deeds_Es``, ``level-12`` -> ``level``).
NUMBERED_PARTS = r"^(.+?)(?:[ _.:/#-]+[^ _.:/#-]*[0-9][^ _.:/#-]*)+$"


@dataclass(frozen=True)
class LabelGroups:
    """Event labels grouped into kinds: ``kinds`` maps each label that changes to its
    kind; ``rule`` is the regex applied ("" when nothing was grouped)."""

    kinds: dict[str, str]
    rule: str
    labels: int
    described: str = ""


def group_labels(counts: list[tuple[str, int]], rule: str | None, top: int) -> LabelGroups:
    """Which event labels to count as one kind, by ``rule`` (a regex: a label's kind is
    its first group, or the whole match; labels it does not match stay as they are).

    ``rule=None``: the built-in rule (:data:`NUMBERED_PARTS`), applied only when it earns
    its place: the log has more labels than share columns (``top``), and it at least
    halves them into two kinds or more. ``rule=""``: every label stays.
    """
    labels = [name for name, _ in counts]
    if rule == "" or not labels:
        return LabelGroups({}, "", len(labels))
    try:
        pattern = re.compile(rule if rule is not None else NUMBERED_PARTS)
    except re.error as exc:
        raise ConfigError("The 'event_group' parameter (--event-group) must be a regular "
                          f"expression. Got {rule!r} instead ({exc}).") from None
    kinds = {}
    for label in labels:
        found = pattern.search(label)
        kind = (found.group(1) if found and pattern.groups else
                found.group(0) if found else label) or label
        if kind != label:
            kinds[label] = kind
    distinct = {kinds.get(label, label) for label in labels}
    if rule is None and not (len(labels) > top and 2 <= len(distinct) <= len(labels) / 2):
        return LabelGroups({}, "", len(labels))
    if not kinds:
        return LabelGroups({}, pattern.pattern, len(labels))
    sizes = {k: sum(1 for v in kinds.values() if v == k) for k in set(kinds.values())}
    example = max(kinds, key=lambda label: (sizes[kinds[label]], label))
    how = "the built-in rule, trailing numbered parts removed" if rule is None else \
        f"--event-group {rule!r}"
    described = (f"event labels grouped: {len(labels):,} labels into {len(distinct):,} kinds "
                 f"by {how} (e.g. {example!r} -> {kinds[example]!r}; "
                 f"{len(kinds):,} labels changed)")
    return LabelGroups(kinds, pattern.pattern, len(labels), described)


def grouped_counts(counts: list[tuple[str, int]], groups: LabelGroups
                   ) -> list[tuple[str, int]]:
    """``counts`` per kind."""
    out: dict[str, int] = {}
    for name, n in counts:
        kind = groups.kinds.get(name, name)
        out[kind] = out.get(kind, 0) + int(n)
    return list(out.items())


def apply_groups(con: Any, groups: LabelGroups) -> None:
    """Replace each grouped label of ``ev`` by its kind (a join: a log may hold thousands
    of labels)."""
    if not groups.kinds:
        return
    values = ", ".join(f"({quote_literal(label)}, {quote_literal(kind)})"
                       for label, kind in sorted(groups.kinds.items()))
    con.execute(f"UPDATE ev SET event = g.kind FROM (VALUES {values}) AS g(label, kind) "
                "WHERE ev.event = g.label")


def top_event_types(counts: list[tuple[str, int]], top: int) -> list[str | None]:
    return [name for name, _ in sorted(counts, key=lambda c: (-c[1], c[0]))[:int(top)]]


def with_purchase_types(con: Any, plan: Plan, names: list[str]) -> Plan:
    """Decide which event types are purchases and whether ``C...`` order ids are cancels.

    ``names`` are the distinct event types; the patterns are matched once per type.
    """
    purchase: tuple[str, ...] = ()
    returns: tuple[str, ...] = ()
    if plan.has("event"):
        returns = tuple(sorted(n for n in names if re.search(RETURN_RE, n.lower())))
        purchase = tuple(sorted(n for n in names if re.search(PURCHASE_RE, n.lower())
                                and n not in returns))
    cancel_prefix = False
    if plan.has("order"):
        share = con.execute("SELECT avg(CASE WHEN regexp_full_match(ord, 'C[0-9].*') THEN 1 "
                            "ELSE 0 END) FROM ev WHERE ord IS NOT NULL").fetchone()[0]
        # a marker only when it is the exception: ids that all look like C123 are just ids
        cancel_prefix = share is not None and 0 < share < 0.5
    return replace(plan, purchase_types=purchase, return_types=returns,
                   cancel_prefix=cancel_prefix)


def _is_return(plan: Plan) -> str:
    parts = []
    if plan.has("quantity"):
        parts.append("coalesce(quantity < 0, false)")
    if plan.has("value"):
        parts.append("coalesce(value < 0, false)")
    if plan.cancel_prefix:
        parts.append("coalesce(regexp_full_match(ord, 'C[0-9].*'), false)")
    if plan.return_types:
        listed = ", ".join(quote_literal(t) for t in plan.return_types)
        parts.append(f"coalesce(event IN ({listed}), false)")
    return " OR ".join(parts) or "false"


def _is_purchase(plan: Plan) -> str:
    if not plan.purchase_types:
        return "true"
    listed = ", ".join(quote_literal(t) for t in plan.purchase_types)
    return f"coalesce(event IN ({listed}), false)"


def _days(start: str, end: str) -> str:
    return f"(datediff('microsecond', {start}, {end}) / 86400000000.0)"


def features(con: Any, plan: Plan, types: list[str | None]
             ) -> tuple[pd.DataFrame, dict[str, FeatureMeaning]]:
    """Run the per-user aggregation; return the frame and meanings of per-type columns."""
    ref = plan.ref_sql
    timed = not plan.date_only
    ret, pur = f"({_is_return(plan)})", f"({_is_purchase(plan)})"
    bought = f"({pur} AND NOT {ret})"
    agg = [
        "min(ts) AS first_ts", "max(ts) AS last_ts",
        f"max(ts) FILTER ({bought}) AS last_purchase",
        "count(*) AS event_count",
        f"count(*) FILTER ({bought}) AS purchase_lines",
        f"count(*) FILTER ({ret}) AS n_returns",
        "count(*) FILTER (dayofweek(ts) IN (0, 6)) AS n_weekend",
        f"count(*) FILTER (ts > {ref} - INTERVAL 30 DAY) AS n_last30",
        f"count(*) FILTER (ts > {ref} - INTERVAL 60 DAY AND ts <= {ref} - INTERVAL 30 DAY) "
        "AS n_prev30",
    ]
    if plan.has("order"):
        agg.append(f"count(DISTINCT ord) FILTER ({bought}) AS frequency")
    if plan.value_from:
        agg.append(f"coalesce(sum(value) FILTER ({pur}), 0) AS money")
    if plan.has("quantity"):
        agg.append(f"coalesce(sum(quantity) FILTER ({bought}), 0) AS qty")
    named = [t for t in types if t is not None]
    for i, t in enumerate(named):
        agg.append(f"count(*) FILTER (event = {quote_literal(t)}) AS n_type_{i}")
    if plan.has("event"):
        listed = ", ".join(quote_literal(t) for t in named) or "NULL"
        agg.append(f"count(*) FILTER (event IS NULL OR event NOT IN ({listed})) AS n_type_other")
    agg.extend(f"{sql} AS {name}" for name, sql in extra_aggregates(plan).items())
    if timed:
        # an hour histogram in the per-user aggregate: 24 filtered counts are far cheaper
        # than a (user, hour) hash aggregate over every event
        agg.extend(f"count(*) FILTER (h = {i}) AS n_h{i}" for i in range(24))

    # one narrow aggregation per grouping: DuckDB hashes (user, x) pairs far faster than it
    # evaluates several DISTINCT aggregates over one wide relation
    hours = "(SELECT *, hour(ts) AS h FROM ev)" if timed else "ev"
    ctes = [f"base AS (SELECT user_id, {', '.join(agg)} FROM {hours} GROUP BY user_id)"]
    joins = ["JOIN seq USING (user_id)"]
    if not plan.has("order"):
        # purchases are a small share of the events: count their days apart
        ctes += [f"bdays AS (SELECT user_id, CAST(ts AS DATE) AS d FROM ev WHERE {bought} "
                 "GROUP BY user_id, d)",
                 "pdays AS (SELECT user_id, count(*) AS purchase_days FROM bdays "
                 "GROUP BY user_id)"]
        joins.append("LEFT JOIN pdays USING (user_id)")
    if timed:
        ctes += _session_ctes(plan)
        joins += ["LEFT JOIN sess USING (user_id)"]
    if plan.has("item"):
        ctes.append("items AS (SELECT user_id, count(*) AS distinct_items FROM (SELECT DISTINCT "
                    "user_id, item FROM ev WHERE item IS NOT NULL) GROUP BY user_id)")
        joins.append("LEFT JOIN items USING (user_id)")
    if plan.has("category"):
        ctes += ["cats AS (SELECT user_id, category, count(*) AS c FROM ev "
                 "WHERE category IS NOT NULL GROUP BY user_id, category)",
                 "ent AS (SELECT user_id, count(*) AS distinct_categories, "
                 "greatest(log2(sum(c)) - sum(c * log2(c)) / sum(c), 0) "
                 "AS category_entropy FROM cats GROUP BY user_id)"]
        joins.append("LEFT JOIN ent USING (user_id)")
    frequency = "frequency" if plan.has("order") else "coalesce(purchase_days, 0)"

    tenure = _days("first_ts", ref)
    freq_div = f"CASE WHEN {frequency} > 0 THEN {frequency} ELSE NULL END"
    cols = [
        "user_id",
        f"{_days('coalesce(last_purchase, first_ts)', ref)} AS recency_days",
        f"{frequency} AS frequency",
    ]
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
        "CASE WHEN active_days > 1 THEN CAST(CAST(last_ts AS DATE) - CAST(first_ts AS DATE) "
        "AS DOUBLE) / (active_days - 1) "
        "ELSE NULL END AS days_between_visits",
    ]
    if timed:
        cols += ["session_count", "coalesce(session_minutes_median, 0.0) AS "
                 "session_minutes_median",
                 "CAST(event_count AS DOUBLE) / session_count AS events_per_session"]
    meanings: dict[str, FeatureMeaning] = {}
    used: set[str] = {"share_event_other"}  # the column of the types not named
    for i, t in enumerate(named):
        name = _unique(f"share_event_{sanitise(t)}", used)
        cols.append(f"CAST(n_type_{i} AS DOUBLE) / event_count AS {name}")
        meanings[name] = _type_meaning(name, t)
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
        cols.append(f"CAST(list_position([{hist}], greatest({hist})) - 1 AS INTEGER) "
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
    extra, extra_meanings = extra_columns(plan, used | set(BUILTIN))
    cols += extra
    meanings.update(extra_meanings)
    sql = (f"WITH {', '.join(ctes)} SELECT {', '.join(cols)} FROM base {' '.join(joins)} "
           "ORDER BY user_id")
    frame = con.execute(sql).df()
    for optional in OPTIONAL:
        if optional in frame.columns and not (frame[optional] > 0).any():
            frame = frame.drop(columns=optional)  # nothing of the kind in this log
    return frame, meanings


def _session_ctes(plan: Plan) -> list[str]:
    if plan.has("session"):
        return [
            "s1 AS (SELECT user_id, session, datediff('microsecond', min(ts), max(ts)) / 6e7 "
            "AS minutes FROM ev GROUP BY user_id, session)",
            "sess AS (SELECT user_id, count(*) AS session_count, median(minutes) AS "
            "session_minutes_median FROM s1 GROUP BY user_id)",
        ]
    return [
        "sess AS (SELECT user_id, len(starts) AS session_count, list_aggregate(list_transform("
        "range(1, len(starts) + 1), lambda i: datediff('microsecond', starts[i], "
        "coalesce(ends[i], last_event)) / 6e7), 'median') AS session_minutes_median FROM seq)",
    ]


def extra_typed_name(index: int) -> str:
    """The typed view's name of the ``index``-th candidate extra column."""
    return f"x{index}"


def numeric_extras(candidates: list[str], stats: dict) -> tuple[tuple[str, str], ...]:
    """The candidate extra columns that hold numbers (some value given, every one parses),
    from the counts ``x<i>_given`` and ``x<i>_bad`` of the engine's row check."""
    named = [(column, extra_typed_name(i)) for i, column in enumerate(candidates)]
    return tuple((column, x) for column, x in named
                 if stats[f"{x}_given"] and not stats[f"{x}_bad"])


def extra_aggregates(plan: Plan) -> dict[str, str]:
    """Per user, each extra column's total and mean over the events that carry it (the
    same SQL in DuckDB and Spark)."""
    out = {}
    for _, typed in plan.extras:
        out[f"{typed}_sum"] = f"sum({typed})"
        out[f"{typed}_mean"] = f"avg({typed})"
    return out


def extra_columns(plan: Plan, used: set[str], quote: str = '"'
                  ) -> tuple[list[str], dict[str, FeatureMeaning]]:
    """The output columns ``<column>_sum`` and ``<column>_mean`` of each extra column and
    their meanings, from the column's name: the mean drives (how much a user does per
    event), the total describes (it repeats the event count times the mean)."""
    cols: list[str] = []
    meanings: dict[str, FeatureMeaning] = {}
    for column, typed in plan.extras:
        base = fallback_meaning(column)
        words = base.label[:1].lower() + base.label[1:]
        for stat, label, role in (("sum", f"Total {words}", "describe"),
                                  ("mean", f"{base.label} per event", "drive")):
            name = _unique(f"{sanitise(column)}_{stat}", used)
            cols.append(f"{typed}_{stat} AS {quote}{name}{quote}")
            meanings[name] = FeatureMeaning(
                name=name, label=label, high=f"have high {label.lower()}",
                low=f"have low {label.lower()}", themes=base.themes or ("engagement",),
                pain_when=base.pain_when, source="user", role=role)  # type: ignore[arg-type]
    return cols, meanings


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 2
    while candidate in used:
        candidate, n = f"{name}_{n}", n + 1
    used.add(candidate)
    return candidate


def _type_meaning(name: str, event_type: str) -> FeatureMeaning:
    return event_type_meaning(name, event_type)
