"""Properties of event features: row order does not matter; recency is never negative."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import personae.features.events as event_features
from personae.features import from_events

START = pd.Timestamp("2024-01-01")

events = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "d"]),
        st.integers(min_value=0, max_value=90 * 24 * 60),    # minutes after START
        st.sampled_from(["view", "cart", "purchase", "return"]),
        st.sampled_from(["O1", "O2", "C3", None]),
        st.integers(min_value=-3, max_value=5),
        st.floats(min_value=0.5, max_value=100, allow_nan=False).map(lambda x: round(x, 2)),
        st.sampled_from(["x", "y", "z"]),
    ),
    min_size=1, max_size=40,
)
COLUMNS = ["user_id", "minute", "event_type", "order_id", "quantity", "price", "category"]
FAST = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _frame(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["timestamp"] = START + pd.to_timedelta(frame.pop("minute"), unit="min")
    return frame


@FAST
@given(rows=events, seed=st.integers(min_value=0, max_value=2**16))
def test_features_do_not_depend_on_row_order(rows, seed):
    frame = _frame(rows)
    shuffled = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    first = from_events(frame, threads=1)
    second = from_events(shuffled, threads=1)
    pd.testing.assert_frame_equal(first.frame, second.frame, check_exact=False, rtol=1e-9,
                                  atol=1e-9)
    assert first.report.duplicates_removed == second.report.duplicates_removed


@FAST
@given(rows=events, offset_days=st.integers(min_value=-10, max_value=120))
def test_recency_is_never_negative(rows, offset_days):
    frame = _frame(rows)
    reference = START + pd.Timedelta(days=offset_days)
    if frame["timestamp"].min() > reference:
        return  # nothing on or before the reference date: refused, tested elsewhere
    f = from_events(frame, reference_date=reference.to_pydatetime(), threads=1)
    assert (f.frame["recency_days"] >= 0).all()
    assert (f.frame["tenure_days"] >= f.frame["recency_days"]).all()
    # only the gap between visits is undefined, and only for one-visit users (left out
    # when no user came twice)
    gaps = f.frame.get("days_between_visits", pd.Series(np.nan, index=f.frame.index))
    assert gaps.isna().equals(f.frame["active_days"] == 1)
    assert not f.frame.drop(columns="days_between_visits", errors="ignore").isna().any().any()
    assert f.frame["user_id"].is_unique


pool = st.lists(
    st.tuples(
        st.sampled_from(["a", "b"]),
        st.integers(min_value=0, max_value=3 * 24 * 60),   # few minutes: many share a time
        st.sampled_from(["view", "purchase"]),
        st.sampled_from(["O1", None]),
        st.integers(min_value=-1, max_value=2),
        st.sampled_from([1.0, 2.5]),
        st.sampled_from(["x", None]),
    ),
    min_size=1, max_size=12,
)


@FAST
@given(rows=pool, picks=st.lists(st.integers(min_value=0, max_value=11), min_size=1,
                                 max_size=40))
@pytest.mark.parametrize("share", [0.0, 1.0], ids=["distinct", "delete"])
def test_duplicates_are_removed_exactly(rows, picks, share, monkeypatch):
    # both ways of removing duplicates: one DISTINCT over all rows, or deleting the extra
    # copies among the rows that share a time with another
    monkeypatch.setattr(event_features, "_DISTINCT_SHARE", share)
    frame = _frame([rows[i % len(rows)] for i in picks])
    once = frame.drop_duplicates()
    got = from_events(frame, threads=1)
    expected = from_events(once, keep_duplicates=True, threads=1)
    assert got.report.duplicates_removed == len(frame) - len(once)
    assert got.report.rows_used == len(once)
    pd.testing.assert_frame_equal(got.frame, expected.frame, check_exact=False, rtol=1e-9,
                                  atol=1e-9)
