"""The held-out check: the paper's 39 + 39 weeks on CDNOW, and histories too short."""

from __future__ import annotations

import pandas as pd
import pytest

from forecast.helpers import CALIBRATION_END
from personae.forecast.summaries import event_days
from personae.forecast.validate import MIN_HOLDOUT_DAYS, holdout_cutoff, validate


def cdnow_days(log: pd.DataFrame):  # type: ignore[no-untyped-def]
    return event_days(log, {"user": "customer_id", "time": "date", "value": "dollar_value"},
                      log["customer_id"], purchases=True)


def test_cdnow_39_plus_39_weeks_correlate_as_in_the_paper(cdnow_sample):
    check = validate(cdnow_days(cdnow_sample), CALIBRATION_END, model="BG/NBD").as_dict()
    assert check["validated"] and check["users"] == 2357 and check["holdout_days"] == 273
    assert check["model"] == "BG/NBD"  # the paper's model and figures
    assert check["correlation"] == pytest.approx(0.626, abs=0.005)  # the paper: 0.626
    # the conditional expectations rise with the calibration repeat count, as the actuals do
    table = check["by_frequency"]
    assert [row["repeat_events"] for row in table][-1] == "7+"
    predicted = [row["predicted"] for row in table]
    assert predicted == sorted(predicted)
    assert sum(row["users"] for row in table) == 2357
    assert -0.2 < check["aggregate_error"] < 0


def test_the_at_risk_flag_is_checked_on_the_held_out_days(cdnow_sample):
    """MBG/NBD (the likelihood's choice on CDNOW) flags the one-time buyers who went quiet;
    far fewer of the flagged came back in weeks 40-78 than of the others."""
    check = validate(cdnow_days(cdnow_sample), CALIBRATION_END).as_dict()
    assert check["model"] == "MBG/NBD"
    flagged = check["at_risk"]
    assert 1000 < flagged["users"] < 2357
    assert flagged["came_back_share"] < 0.5 * flagged["others_came_back_share"]


def test_the_run_rule_holds_out_the_last_third(cdnow_sample):
    days = cdnow_days(cdnow_sample)
    cutoff, why = holdout_cutoff(days)
    span = (days.last_day - days.first_day).days
    assert why == "" and (days.last_day - cutoff).days == round(span / 3)


def test_a_short_history_is_said_plainly():
    log = pd.DataFrame({"user": [1, 1, 2, 2], "time": pd.to_datetime(
        ["2024-01-01", "2024-01-20", "2024-01-02", "2024-02-10"])})
    days = event_days(log, {"user": "user", "time": "time"}, log["user"].astype(str),
                      purchases=False)
    check = validate(days).as_dict()
    assert check["validated"] is False
    assert check["why"] == (f"the history is too short to check the forecasts: the log spans "
                            f"40 days; holding out its last third needs at least "
                            f"{3 * MIN_HOLDOUT_DAYS} days")
