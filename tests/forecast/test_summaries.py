"""Event rows -> per-user repeat-event summaries: properties over generated logs, and the
purchase rules (returns are not purchases, zero-value ones count but not as spend)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from personae.forecast.summaries import SUMMARY_COLUMNS, event_days, summarise

MAPPING = {"user": "user", "time": "time", "event": "event", "value": "value"}
END = pd.Timestamp("2024-03-31")

events = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 90 * 24 - 1),
                            st.sampled_from(["view", "purchase", "refund"]),
                            st.floats(-20, 100, allow_nan=False)), min_size=1, max_size=60)


def frame(rows: list[tuple[int, int, str, float]]) -> pd.DataFrame:
    return pd.DataFrame({"user": [r[0] for r in rows],
                         "time": pd.Timestamp("2024-01-01") + pd.to_timedelta(
                             [r[1] for r in rows], unit="h"),
                         "event": [r[2] for r in rows], "value": [r[3] for r in rows]})


def summaries_of(log: pd.DataFrame, purchases: bool) -> pd.DataFrame:
    days = event_days(log, MAPPING, log["user"].astype(str), purchases=purchases)
    return summarise(days, END)


@settings(max_examples=60, deadline=None)
@given(events, st.booleans(), st.randoms(use_true_random=False))
def test_summaries_are_consistent_and_do_not_depend_on_row_order(rows, purchases, rng):
    log = frame(rows)
    out = summaries_of(log, purchases)
    assert list(out.columns) == list(SUMMARY_COLUMNS)
    assert (out["repeat_events"] >= 0).all()
    assert (out["first_to_last_days"] >= 0).all()
    assert (out["first_to_last_days"] <= out["observed_days"]).all()
    assert (out["repeat_events"] <= out["first_to_last_days"]).all()  # one a day at most
    shuffled = log.sample(frac=1.0, random_state=rng.randint(0, 1000))
    pd.testing.assert_frame_equal(out.sort_index(), summaries_of(shuffled, purchases)
                                  .sort_index())
    if not purchases:  # every event counts: repeat events = active days - 1
        active = log.groupby("user")["time"].apply(lambda t: t.dt.floor("D").nunique())
        assert (out["repeat_events"].sort_index().to_numpy()
                == (active - 1).sort_index().to_numpy()).all()


def test_purchase_days_leave_out_views_returns_and_spend_of_zero():
    log = pd.DataFrame({
        "user": ["a"] * 6,
        "time": pd.to_datetime(["2024-01-01 09:00", "2024-01-01 10:00", "2024-01-05 10:00",
                                "2024-01-09 10:00", "2024-01-12 10:00", "2024-01-20 10:00"]),
        "event": ["purchase", "purchase", "view", "purchase", "purchase", "refund"],
        "value": [10.0, 5.0, 0.0, 0.0, 30.0, -30.0]})
    out = summaries_of(log, purchases=True).loc["a"]
    # purchase days: Jan 1 (twice, once counted), Jan 9 (zero value), Jan 12
    assert out["repeat_events"] == 2
    assert out["first_to_last_days"] == 11
    assert out["observed_days"] == (END - pd.Timestamp("2024-01-01")).days
    assert out["mean_repeat_spend"] == 30.0  # the zero-value day is no spend
    activity = summaries_of(log, purchases=False).loc["a"]
    assert activity["repeat_events"] == 4 and np.isnan(activity["mean_repeat_spend"])
