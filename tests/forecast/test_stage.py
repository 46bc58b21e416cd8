"""A run of an event log forecasts every user and persona, keeps the forecaster in its
model, and says plainly when a log cannot be forecast."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from personae.config import EventsConfig, ForecastConfig, InputConfig, RunConfig
from personae.model import SegmentModel
from personae.pipeline import segment


def test_users_who_stopped_are_at_risk_and_regular_ones_are_not(forecast_run):
    _, run_dir, _, truth = forecast_run
    users = pd.read_parquet(run_dir / "users_segmented.parquet")
    kind = users["user_id"].astype(int).map(truth)
    at_risk = users["at_risk"].astype(bool)
    assert at_risk[kind == "gone"].mean() > 0.9
    assert at_risk[kind == "regular"].mean() < 0.1
    # one purchase, then a year of silence while others bought weekly: MBG/NBD (chosen on
    # this log by its likelihood) lets them have left; BG/NBD would hold them alive (1.0)
    block = json.loads((run_dir / "run.json").read_text())["forecast"]
    assert block["model"] == "MBG/NBD"
    assert block["log_likelihoods"]["MBG/NBD"] > block["log_likelihoods"]["BG/NBD"]
    assert at_risk[kind == "once"].all()
    regular = users.loc[kind == "regular", "expected_events"]
    # about weekly for the next 90 days: roughly 12 purchase days each
    assert 8 < regular.median() < 16
    assert users.loc[kind == "gone", "expected_events"].median() < 1
    assert (users["expected_value"] > 0).all()


def test_run_json_personas_and_segments_carry_the_forecast(forecast_run):
    result, run_dir, _, _ = forecast_run
    block = json.loads((run_dir / "run.json").read_text())["forecast"]
    assert block["fitted"] and block["days"] == 90 and block["at_risk_below"] == 0.5
    assert set(block["parameters"]) == {"r", "alpha", "a", "b", "unit_days"}
    assert block["spend_model"] == "Gamma-Gamma" and block["purchases"]
    assert "below 0.5" in block["rule"] and "purchase days" in block["rule"]
    assert block["holdout"]["validated"] and block["holdout"]["correlation"] > 0.5
    users = pd.read_parquet(run_dir / "users_segmented.parquet")
    assert block["users_at_risk"] == int(users["at_risk"].astype(bool).sum())
    personas = json.loads((run_dir / "personas.json").read_text())["personas"]
    segments = json.loads((run_dir / "model" / "segments.json").read_text())["segments"]
    for persona, row in zip(personas, segments, strict=True):
        mine = users[users["segment"] == persona["segment"]]
        forecast = persona["forecast"]
        assert row["forecast"] == forecast
        assert forecast["users"] == len(mine)
        assert forecast["users_at_risk"] == int(mine["at_risk"].astype(bool).sum())
        assert forecast["likely_active_share"] == pytest.approx(1 - forecast["at_risk_share"])
        assert forecast["expected_value"] == pytest.approx(mine["expected_value"].sum(),
                                                           abs=0.01)


def test_the_saved_model_forecasts_a_log_as_the_run_did(forecast_run, tmp_path):
    from personae.serve.batch import assign_log

    result, run_dir, log_path, _ = forecast_run
    model = SegmentModel.load(run_dir / "model")
    assert model.forecaster_ == result.model.forecaster_
    table, _ = assign_log(run_dir / "model", log_path)
    users = pd.read_parquet(run_dir / "users_segmented.parquet")
    both = table.merge(users, on="user_id", suffixes=("", "_run"))
    assert len(both) == len(users)
    for column in ("p_alive", "expected_events", "expected_value"):
        np.testing.assert_allclose(both[column], both[f"{column}_run"], rtol=1e-9)
    assert (both["at_risk"] == both["at_risk_run"]).all()


def test_a_user_table_with_summaries_gets_forecasts_from_assign(forecast_run):
    result, run_dir, _, _ = forecast_run
    model = SegmentModel.load(run_dir / "model")
    users = pd.read_parquet(run_dir / "users_segmented.parquet").head(5)
    table = users.assign(repeat_events=[0, 3, 3, 3, 10], first_to_last_days=[0, 20, 20, 200, 300],
                         observed_days=[30, 30, 300, 300, 300], mean_repeat_spend=50.0)
    assigned = model.assign(table)
    assert model.forecaster_.events.variant == "MBG/NBD"  # no repeat yet: can have left
    assert assigned["p_alive"].iloc[0] < 1.0
    assert assigned["p_alive"].iloc[1] > assigned["p_alive"].iloc[3] > assigned["p_alive"].iloc[2]
    assert "expected_value" in assigned and "at_risk" in assigned


def write(log: pd.DataFrame, folder) -> RunConfig:  # type: ignore[no-untyped-def]
    path = folder / "log.csv"
    log.to_csv(path, index=False)
    return RunConfig(input=InputConfig(path=str(path), events=EventsConfig()),
                     forecast=ForecastConfig(days=30))


def test_a_log_where_nobody_comes_back_runs_and_says_why(tmp_path):
    rng = np.random.default_rng(0)
    log = pd.DataFrame({"user_id": np.arange(60), "time": pd.Timestamp("2024-01-01")
                        + pd.to_timedelta(rng.integers(0, 100, 60), unit="D"),
                        "event": "view", "pages": rng.integers(1, 9, 60)})
    result = segment(config=write(log, tmp_path), k=2, algorithm="kmeans", stability=False)
    block = result.info["forecast"]
    assert block["fitted"] is False
    assert block["why"] == ("nobody came back after their first day (no repeat events): a "
                            "repeat-event forecast has nothing to learn from")
    assert "p_alive" not in result.users.columns
    assert not hasattr(result.model, "forecaster_")


def test_an_activity_log_forecasts_active_days_and_no_value(tmp_path):
    from forecast.helpers import planted_log

    log, _ = planted_log(90)
    log = log[log["event"] != "return"].assign(event="visit").drop(columns="value")
    result = segment(config=write(log, tmp_path), k=2, algorithm="kmeans", stability=False)
    block = result.info["forecast"]
    assert block["fitted"] and not block["purchases"] and block["spend_model"] is None
    assert "active days" in block["rule"] and "purchase" not in block["rule"]
    assert "expected_value" not in result.users.columns and block["days"] == 30


@pytest.mark.parametrize("days", [0, -5, 1.5])
def test_a_horizon_of_no_days_is_refused_naming_the_flag(days):
    from personae.cli._settings import run_settings
    from personae.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^--forecast-days must be a whole number of days "
                                          rf">= 1 \(the forecast horizon\); got {days}$"):
        run_settings(None, {"input.path": "log.csv", "forecast.days": days})


def test_the_cli_says_the_forecast_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from forecast.helpers import planted_log
    from personae.cli import app

    log, _ = planted_log(60)
    log.to_csv(tmp_path / "log.csv", index=False)
    done = CliRunner().invoke(app, ["run", str(tmp_path / "log.csv"), "--events", "--out",
                                    str(tmp_path / "run"), "--k", "2", "--algorithm",
                                    "kmeans", "--no-stability", "--forecast-days", "30"])
    assert done.exit_code == 0, done.output
    line = next(x for x in done.output.splitlines() if x.startswith("forecast: "))
    block = json.loads((tmp_path / "run" / "run.json").read_text())["forecast"]
    assert block["days"] == 30
    assert line.startswith(f"forecast: {block['model']}: {block['users_at_risk']:,} of 60 "
                           "users at risk "
                           "(P(still active) below 0.5); next 30 days: ")


def test_the_repeat_event_model_is_one_of_the_two_or_auto(tmp_path):
    from personae.config import build
    from personae.errors import ConfigError

    assert ForecastConfig().model == "auto"
    assert build(ForecastConfig, {"model": "MBG/NBD"}).model == "MBG/NBD"
    with pytest.raises(ConfigError, match=r"model: must be one of auto, BG/NBD, MBG/NBD; "
                                          r"got 'Pareto/NBD'"):
        build(ForecastConfig, {"model": "Pareto/NBD"})
