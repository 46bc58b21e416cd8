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
    """One row per user and day with a counted event: ``user`` (text key), ``day``
    (midnight, tz-naive UTC) and ``spend`` (the day's money; NaN without money)."""

    frame: pd.DataFrame
    purchases: bool

    @property
    def first_day(self) -> pd.Timestamp:
        return self.frame["day"].min()

    @property
    def last_day(self) -> pd.Timestamp:
        return self.frame["day"].max()

    def until(self, day: pd.Timestamp) -> EventDays:
        """The days up to and including ``day`` (a calibration period)."""
        return EventDays(self.frame[self.frame["day"] <= day], self.purchases)


def event_days(rows: pd.DataFrame, mapping: dict[str, str], keys: pd.Series, *,
               purchases: bool, drop_duplicates: bool = False, source: str = "events"
               ) -> EventDays:
    """The counted days of ``rows`` (a log's mapped columns under their own names;
    ``keys``: each row's user as the text the caller matches users by).
    ``drop_duplicates``: identical rows count once, as a run reads a raw log by default
    (a run's kept rows are already read that way)."""
    if "time" not in mapping:
        raise DataError("forecasts need a time column (mapping role 'time')", source=source)
    if drop_duplicates:
        unique = ~rows.duplicated().to_numpy()
        rows, keys = rows[unique], pd.Series(np.asarray(keys, dtype=object)[unique])
    times = pd.to_datetime(rows[mapping["time"]], errors="coerce", utc=True)
    frame = pd.DataFrame({"user": np.asarray(keys, dtype=object),
                          "day": times.dt.tz_localize(None).dt.floor("D").to_numpy()})
    money = _money(rows, mapping)
    frame["spend"] = money if money is not None else np.nan
    counted = frame["day"].notna().to_numpy().copy()
    if purchases:
        counted &= _purchase_rows(rows, mapping)
        if money is not None:
            counted &= ~(money < 0)
    frame = frame[counted]
    by_day = frame.groupby(["user", "day"], sort=True, observed=True)["spend"].sum(
        min_count=1).reset_index()
    return EventDays(by_day, purchases)


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
    any, else every row; never a return-like type."""
    if "event" not in mapping:
        return np.ones(len(rows), dtype=bool)
    names = rows[mapping["event"]].astype("string").str.lower()
    kinds = pd.Series(names.dropna().unique())
    buys = {k for k in kinds if re.search(PURCHASE_RE, k) and not re.search(RETURN_RE, k)}
    if not buys:
        returns = {k for k in kinds if re.search(RETURN_RE, k)}
        return ~names.isin(returns).fillna(False).to_numpy(bool)
    return names.isin(buys).fillna(False).to_numpy(bool)


def summarise(days: EventDays, end: pd.Timestamp, users: pd.Index | None = None
              ) -> pd.DataFrame:
    """``SUMMARY_COLUMNS`` per user (index: the user key), counted to ``end`` (the last day
    observed, included). ``users``: the rows wanted, in this order (users without a
    counted day get NaN: no forecast)."""
    frame = days.frame[days.frame["day"] <= end]
    grouped = frame.groupby("user", sort=False)["day"]
    first, last, count = grouped.min(), grouped.max(), grouped.size()
    out = pd.DataFrame({
        "repeat_events": (count - 1).astype(float),
        "first_to_last_days": (last - first).dt.days.astype(float),
        "observed_days": (end - first).dt.days.astype(float)})
    if days.purchases and frame["spend"].notna().any():
        later = frame[(frame["day"] > frame["user"].map(first).to_numpy())
                      & (frame["spend"] > 0)]
        out["mean_repeat_spend"] = later.groupby("user")["spend"].mean().reindex(out.index)
    else:
        out["mean_repeat_spend"] = np.nan
    return out if users is None else out.reindex(users)


def counted_between(days: EventDays, after: pd.Timestamp, until: pd.Timestamp,
                    users: pd.Index) -> np.ndarray:
    """Each user's counted days in (after, until]: the holdout's actual repeat events."""
    frame = days.frame
    inside = frame[(frame["day"] > after) & (frame["day"] <= until)]
    return inside.groupby("user").size().reindex(users, fill_value=0).to_numpy(float)


def user_summaries(rows: pd.DataFrame, mapping: dict[str, str], keys: pd.Series,
                   users: pd.Index, *, purchases: bool, end: pd.Timestamp,
                   source: str = "events") -> pd.DataFrame:
    """``summarise`` of ``users`` straight from their raw rows (new users to forecast)."""
    return summarise(event_days(rows, mapping, keys, purchases=purchases,
                                drop_duplicates=True, source=source), end, users)
