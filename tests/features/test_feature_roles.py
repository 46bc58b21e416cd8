"""Feature roles: the behavioural core drives the split, timing and context describe it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from personae.errors import DataError
from personae.features.semantics import Semantics, feature_roles

EVENT_FEATURES = ["recency_days", "frequency", "monetary_total", "event_count",
                  "days_between_visits", "distinct_items", "share_night", "share_morning",
                  "share_weekend", "peak_hour", "trend_30d"]


def test_timing_shares_describe_and_the_core_drives():
    roles = feature_roles(EVENT_FEATURES)
    assert roles.describe == ("share_night", "share_morning", "share_weekend", "peak_hour")
    # the event count drives: nothing else here measures activity
    assert roles.drive == ("recency_days", "frequency", "monetary_total", "event_count",
                           "days_between_visits", "distinct_items", "trend_30d")
    assert roles.reasons["share_night"].startswith("timing")


def test_a_count_that_repeats_core_columns_describes_when_they_are_there(tmp_path: Path):
    columns = [*EVENT_FEATURES, "active_days", "events_per_active_day", "session_count",
               "events_last_30d"]
    roles = feature_roles(columns)
    echoes = {"event_count", "session_count", "events_last_30d", "trend_30d"}
    assert echoes <= set(roles.describe)
    assert {"active_days", "events_per_active_day", "recency_days"} <= set(roles.drive)
    assert roles.reasons["event_count"] == \
        "repeats active_days and events_per_active_day, which drive"
    # asked for, or the core it repeats described: it drives again
    assert "event_count" in feature_roles(columns, drive=["event_count", "frequency"]).drive
    assert "event_count" in feature_roles(columns, describe=["active_days"]).drive
    # a user's own column of the same name is theirs, not a built-in echo
    yaml_file = tmp_path / "semantics.yaml"
    yaml_file.write_text("session_count:\n  label: Sessions booked\n", encoding="utf-8")
    assert "session_count" in feature_roles(columns, Semantics.from_yaml(yaml_file)).drive


def test_user_columns_by_name_timing_and_context_describe():
    columns = ["ProductRelated_Duration", "PageValues", "Month", "Weekend", "SpecialDay",
               "Browser", "OperatingSystems", "Region", "TrafficType", "zip_code", "history"]
    roles = feature_roles(columns)
    assert roles.drive == ("ProductRelated_Duration", "PageValues", "history")
    assert "context" in roles.reasons["Browser"]


def test_money_per_period_drives_though_its_name_holds_a_timing_word():
    roles = feature_roles(["MonthlyCharges", "TotalCharges", "tenure", "monthly_cost",
                           "signup_month", "Month", "peak_hour"])
    assert roles.drive == ("MonthlyCharges", "TotalCharges", "tenure", "monthly_cost")
    assert roles.describe == ("signup_month", "Month", "peak_hour")
    assert roles.reasons["MonthlyCharges"] == "behaviour"


def test_overrides_and_yaml_role(tmp_path: Path):
    roles = feature_roles(EVENT_FEATURES, drive=["share_weekend", "frequency"])
    assert roles.drive == ("frequency", "share_weekend")  # asked for: only these drive
    roles = feature_roles(EVENT_FEATURES, describe=["monetary_total"])
    assert "monetary_total" in roles.describe and "share_night" in roles.describe
    yaml_file = tmp_path / "semantics.yaml"
    yaml_file.write_text("share_weekend:\n  role: drive\nfrequency:\n  role: describe\n",
                         encoding="utf-8")
    roles = feature_roles(EVENT_FEATURES, Semantics.from_yaml(yaml_file))
    assert "share_weekend" in roles.drive and "frequency" in roles.describe


def test_bad_roles_are_refused(tmp_path: Path):
    with pytest.raises(DataError, match="both drive and describe"):
        feature_roles(EVENT_FEATURES, drive=["frequency"], describe=["frequency"])
    with pytest.raises(DataError, match="not there"):
        feature_roles(EVENT_FEATURES, drive=["nope"])
    yaml_file = tmp_path / "semantics.yaml"
    yaml_file.write_text("frequency:\n  role: steer\n", encoding="utf-8")
    with pytest.raises(DataError, match="role must be 'drive' or 'describe'"):
        Semantics.from_yaml(yaml_file)


def test_a_column_most_users_lack_describes_and_says_why():
    """The gap between visits of a log where most users came once: filled with the median
    it would make most of them look average, so it describes; half or less missing drives."""
    from personae import segment

    rng = np.random.default_rng(3)
    n = 400
    gap = np.where(rng.random(n) < 0.8, np.nan, rng.gamma(2.0, 10.0, n))
    frame = pd.DataFrame({"user_id": np.arange(n), "active_days": rng.poisson(3, n) + 1.0,
                          "monetary_total": rng.gamma(2.0, 50.0, n),
                          "days_between_visits": gap})
    roles = feature_roles(["active_days", "days_between_visits"],
                          missing={"active_days": 0.0, "days_between_visits": 0.8})
    assert roles.describe == ("days_between_visits",)
    assert "missing for 80% of users" in roles.reasons["days_between_visits"]
    assert feature_roles(["days_between_visits"],
                         missing={"days_between_visits": 0.5}).drive == ("days_between_visits",)
    result = segment(frame, random_state=0)
    assert "days_between_visits" not in result.model.feature_names
    column = result.info["columns"]["days_between_visits"]
    assert column["role"] == "describe" and "missing for 8" in column["reason"]
