"""Event rows -> one repeat-event summary per user, what the forecast models read.

The unit of a repeat event is a day: a user's events of one day count once (``lifetimes``'
convention and the CDNOW papers' data). In a purchase log only purchase days count: rows of
a purchase-like event type when the log has them, and never a return: a return-like type
or negative money (value, else quantity x price). Zero-value purchases count as purchase
days (CDNOW has them) but not as spend. In a log without purchases every event counts: the
forecasts are of active days.

Per user, in days: ``repeat_events`` (event days after the first), ``first_to_last_days``
(first to last event day), ``observed_days`` (first event day to the last day observed)
and, in purchase logs, ``mean_repeat_spend`` (mean spend of the repeat purchase days with
positive spend; empty without one), the columns ``SegmentModel.forecast`` reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from personae.errors import DataError
from personae.features.events_sql import PURCHASE_RE, RETURN_RE

__all__ = ["SUMMARY_COLUMNS", "EventDays", "counted_between", "event_days", "summarise",
           "user_summaries"]

SUMMARY_COLUMNS = ("repeat_events", "first_to_last_days", "observed_days", "mean_repeat_spend")


@dataclass(frozen=True)
class EventDays:
    """One entry per user and day with a counted event, sorted by user then day: ``user``
    (codes into ``users``, the keys as the caller gave them), ``day`` (days since
    1970-01-01, UTC) and ``spend`` (the day's money; NaN without money)."""

    user: np.ndarray
    day: np.ndarray
    spend: np.ndarray
    users: pd.Index
    purchases: bool

    @property
    def first_day(self) -> pd.Timestamp:
        return _timestamp(int(self.day.min()))

    @property
    def last_day(self) -> pd.Timestamp:
        return _timestamp(int(self.day.max()))

    @property
    def empty(self) -> bool:
        return len(self.day) == 0

    def until(self, day: pd.Timestamp) -> EventDays:
        """The days up to and including ``day`` (a calibration period)."""
        kept = self.day <= _day_number(day)
        return EventDays(self.user[kept], self.day[kept], self.spend[kept], self.users,
                         self.purchases)


def _day_number(day: pd.Timestamp) -> int:
    return int(np.datetime64(pd.Timestamp(day).floor("D").to_datetime64(), "D")
               .astype(np.int64))


def _timestamp(day: int) -> pd.Timestamp:
    return pd.Timestamp(np.datetime64(day, "D"))


def event_days(rows: pd.DataFrame, mapping: dict[str, str], keys: pd.Series | np.ndarray, *,
               purchases: bool, drop_duplicates: bool = False, source: str = "events"
               ) -> EventDays:
    """The counted days of ``rows`` (a log's mapped columns under their own names;
    ``keys``: each row's user as the caller matches users by).
    ``drop_duplicates``: identical rows count once, as a run reads a raw log by default
    (a run's kept rows are already read that way)."""
    if "time" not in mapping:
        raise DataError("forecasts need a time column (mapping role 'time')", source=source)
    keys = np.asarray(keys)
    if drop_duplicates:
        unique = ~rows.duplicated().to_numpy()
        rows, keys = rows[unique], keys[unique]
    times = pd.to_datetime(rows[mapping["time"]], errors="coerce", utc=True)
    counted = times.notna().to_numpy().copy()
    day = times.dt.tz_localize(None).to_numpy().astype("datetime64[D]").astype(np.int64)
    money = _money(rows, mapping)
    if purchases:
        counted &= _purchase_rows(rows, mapping)
        if money is not None:
            counted &= ~(money < 0)
    codes, users = pd.factorize(keys[counted])
    day = day[counted]
    if not len(day):
        return EventDays(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0),
                         pd.Index(users), purchases)
    # one entry per (user, day): a single sortable number each
    low, width = int(day.min()), int(day.max() - day.min()) + 1
    pairs, inverse = np.unique(codes.astype(np.int64) * width + (day - low),
                               return_inverse=True)
    if money is None:
        spend = np.full(len(pairs), np.nan)
    else:
        paid = money[counted]
        known = np.isfinite(paid)
        spend = np.bincount(inverse, weights=np.where(known, paid, 0.0), minlength=len(pairs))
        spend[np.bincount(inverse, weights=known, minlength=len(pairs)) == 0] = np.nan
    return EventDays(pairs // width, pairs % width + low, spend, pd.Index(users), purchases)


def _money(rows: pd.DataFrame, mapping: dict[str, str]) -> np.ndarray | None:
    if "value" in mapping:
        return pd.to_numeric(rows[mapping["value"]], errors="coerce").to_numpy(float)
    if "quantity" in mapping and "price" in mapping:
        quantity = pd.to_numeric(rows[mapping["quantity"]], errors="coerce")
        return (quantity * pd.to_numeric(rows[mapping["price"]], errors="coerce")
                ).to_numpy(float)
    return None


def _purchase_rows(rows: pd.DataFrame, mapping: dict[str, str]) -> np.ndarray:
    """Rows of a purchase-like event type (the feature SQL's patterns) when the log has
    any, else every row; never a return-like type. Each distinct type is matched once."""
    if "event" not in mapping:
        return np.ones(len(rows), dtype=bool)
    codes, kinds = pd.factorize(rows[mapping["event"]])
    names = [str(k).lower() for k in kinds]
    returns = np.array([bool(re.search(RETURN_RE, k)) for k in names] + [False])
    buys = np.array([bool(re.search(PURCHASE_RE, k)) for k in names] + [False]) & ~returns
    chosen = buys if buys.any() else ~returns
    chosen[-1] = not buys.any()  # a row without a type: a purchase only in a log of none
    return chosen[codes]  # code -1 (no type) reads the last entry


def summarise(days: EventDays, end: pd.Timestamp, users: pd.Index | None = None
              ) -> pd.DataFrame:
    """``SUMMARY_COLUMNS`` per user (index: the user key), counted to ``end`` (the last day
    observed, included). ``users``: the rows wanted, in this order (users without a
    counted day get NaN: no forecast)."""
    last_day = _day_number(end)
    kept = days.day <= last_day
    user, day, spend = days.user[kept], days.day[kept], days.spend[kept]
    present, start, count = np.unique(user, return_index=True, return_counts=True)
    first = day[start]
    out = pd.DataFrame({
        "repeat_events": (count - 1).astype(float),
        "first_to_last_days": (day[start + count - 1] - first).astype(float),
        "observed_days": (last_day - first).astype(float)},
        index=days.users.take(present) if len(present) else pd.Index([]))
    out["mean_repeat_spend"] = np.nan
    if days.purchases and np.isfinite(spend).any():
        later = np.ones(len(user), dtype=bool)
        later[start] = False  # the first purchase day of each user is not a repeat
        later &= spend > 0
        where = np.searchsorted(present, user[later])
        total = np.bincount(where, weights=spend[later], minlength=len(present))
        n = np.bincount(where, minlength=len(present))
        with np.errstate(invalid="ignore", divide="ignore"):
            out["mean_repeat_spend"] = np.where(n > 0, total / np.maximum(n, 1), np.nan)
    return out if users is None else out.reindex(users)


def counted_between(days: EventDays, after: pd.Timestamp, until: pd.Timestamp,
                    users: pd.Index) -> np.ndarray:
    """Each user's counted days in (after, until]: the holdout's actual repeat events."""
    inside = (days.day > _day_number(after)) & (days.day <= _day_number(until))
    counts = np.bincount(days.user[inside], minlength=len(days.users)).astype(float)
    where = days.users.get_indexer(users)
    return np.where(where >= 0, counts[where], 0.0)


def user_summaries(rows: pd.DataFrame, mapping: dict[str, str], keys: pd.Series,
                   users: pd.Index, *, purchases: bool, end: pd.Timestamp,
                   source: str = "events") -> pd.DataFrame:
    """``summarise`` of ``users`` straight from their raw rows (new users to forecast)."""
    return summarise(event_days(rows, mapping, keys, purchases=purchases,
                                drop_duplicates=True, source=source), end, users)
