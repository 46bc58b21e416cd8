"""Early assignment: first-N-days features, the k-NN, its validation, file and service."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from personae.cli import app as cli_app
from personae.errors import ConfigError, DataError, ModelFileError
from personae.features.events import from_events
from personae.serve.early import (
    EarlyModel,
    fit_early,
    has_early_model,
    parse_days,
    window_features,
)


@pytest.fixture(scope="module")
def early_run(events_run, tmp_path_factory):
    run_dir, events = events_run
    copy = tmp_path_factory.mktemp("early") / "run"
    shutil.copytree(run_dir, copy)
    model = fit_early(copy, events, [7, 14])
    model.save(copy / "model")
    return copy, events, model


def test_window_features_equal_from_events_cut_at_day_n(events_run):
    _, events = events_run
    one = events[events["user_id"] == 1003]
    first = one["time"].min().normalize()
    got = window_features(one, {"user": "user_id", "time": "time", "event": "event",
                                "value": "value", "order": "order"}, 7)
    expected = from_events(one[one["time"] <= first + pd.Timedelta(days=7)],
                           reference_date=first + pd.Timedelta(days=7)).frame
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_early_model_beats_the_majority_baseline(early_run):
    _, _, model = early_run
    assert [v.days for v in model.validation] == [7, 14]
    for check in model.validation:
        assert check.holdout_users == 20 and check.train_users == 60
        assert check.agreement >= 0.9 > check.majority_baseline + 0.2
        assert set(check.recall) == {0, 1}


def test_saved_without_pickle_and_read_back(early_run):
    run_dir, _, model = early_run
    folder = run_dir / "model"
    assert has_early_model(folder)
    with np.load(folder / "early" / "early.npz", allow_pickle=False) as arrays:
        assert "7.X" in arrays.files
    again = EarlyModel.load(folder)
    assert again.days == [7, 14] and again.validation == model.validation
    np.testing.assert_array_equal(again.windows[0].X, model.windows[0].X)
    (folder / "early" / "early.json").write_text("[]")
    with pytest.raises(ModelFileError, match=r"early/early\.json: not a JSON object"):
        EarlyModel.load(folder)
    model.save(folder)


def test_young_users_get_the_early_model_over_http(serve_model, early_run):
    run_dir, events, _ = early_run
    truth = pd.read_parquet(run_dir / "users_segmented.parquet").set_index("user_id")
    firsts = events.groupby("user_id")["time"].min()
    running = serve_model(run_dir / "model")
    rows = []
    with running.client() as client:
        assert client.get("/ready").json()["early"] is True
        for user in (1000, 1001, 1004, 1005):  # each on the day after their last event
            sent = events[(events["user_id"] == user)
                          & (events["time"] < firsts[user] + pd.Timedelta(days=5))]
            sent = sent.assign(time=sent["time"].dt.strftime("%Y-%m-%d %H:%M:%S"))
            answer = client.post("/assign/events", json={"events": sent.to_dict("records")})
            rows += answer.json()["assignments"]
    assert {r["source"] for r in rows} == {"early"} and {r["early_days"] for r in rows} == {7}
    got = [r["segment"] for r in rows]
    assert got == truth.loc[[r["user_id"] for r in rows], "segment"].tolist()


def test_cli_early_prints_the_table(events_run, tmp_path):
    run_dir, events = events_run
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    log = tmp_path / "events.parquet"
    events.to_parquet(log)
    result = CliRunner().invoke(cli_app, ["early", str(copy), str(log), "--days", "7"])
    assert result.exit_code == 0, result.output
    assert "agreement" in result.output and "majority" in result.output
    assert has_early_model(copy / "model")
    bad = CliRunner().invoke(cli_app, ["early", str(copy), str(log), "--days", "a week"])
    assert bad.exit_code == 2 and "--days must be whole numbers" in bad.output


def test_bad_inputs(events_run, tmp_path):
    run_dir, events = events_run
    with pytest.raises(ConfigError, match="at least one window"):
        parse_days("0")
    other = events.assign(user_id=events["user_id"] + 50_000)
    with pytest.raises(DataError, match="is it the log the run was made from"):
        fit_early(run_dir, other, [7])
    with pytest.raises(DataError, match="users_segmented.parquet: not found"):
        shutil.copytree(run_dir / "model", tmp_path / "bare" / "model")
        fit_early(tmp_path / "bare", events, [7])
