"""`personae run --events --early-days` and `personae assign --events [--early]`: the early
model learned inside a run, and a raw log assigned the way the training log was read."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from personae.cli import app as cli_app
from personae.config import EventsConfig, build
from personae.errors import ConfigError, DataError
from personae.serve.early import EarlyModel, has_early_model
from serve.helpers import early_run

WINDOWS = [7, 14]


def invoke(*args: str) -> object:
    return CliRunner().invoke(cli_app, [str(a) for a in args])


@pytest.fixture(scope="module")
def early_cli_run(tmp_path_factory, planted_log):
    """A run of the planted log (regular morning buyers vs occasional evening ones: their
    first week already tells them apart) with --early-days 7,14."""
    events, truth = planted_log
    run_dir, log, output = early_run(tmp_path_factory.mktemp("early-run"), events, "14,7", 2)
    return run_dir, log, events, truth, output


def test_run_writes_the_early_block_model_and_report_section(early_cli_run):
    run_dir, _, _, truth, output = early_cli_run
    info = json.loads((run_dir / "run.json").read_text())
    users = pd.read_parquet(run_dir / "users_segmented.parquet")
    planted = users["user_id"].astype(str).map(truth).to_numpy()
    same = np.mean(planted == users["segment"].to_numpy())
    assert same in (0.0, 1.0)  # the run found the planted groups (in some numbering)
    block = info["early"]
    assert block["days"] == WINDOWS and block["model"] == "model/early/early.json"
    assert info["config"]["input"]["events"]["early_days"] == WINDOWS
    for check in block["validation"]:
        assert check["holdout_users"] == 20 and check["train_users"] == 60
        assert check["agreement"] >= 0.9 > check["majority_baseline"] + 0.2
    assert has_early_model(run_dir / "model")
    assert EarlyModel.load(run_dir / "model").days == WINDOWS
    assert "model/early/early.json" in info["files"] or any(
        "early.json" in str(f) for f in info["files"])
    html = (run_dir / "report.html").read_text()
    assert 'id="early"' in html and "everyone in the most common segment" in html
    assert "early assignment: agreement" in output


def test_assign_events_equals_features_then_assign(early_cli_run, tmp_path):
    run_dir, log, _, _, _ = early_cli_run
    features = tmp_path / "features.parquet"
    assert invoke("features", log, "--out", features).exit_code == 0
    two_steps = invoke("assign", run_dir / "model", features, "--out", tmp_path / "a.parquet")
    assert two_steps.exit_code == 0, two_steps.output
    one_step = invoke("assign", run_dir / "model", "--events", log,
                      "--out", tmp_path / "b.parquet")
    assert one_step.exit_code == 0, one_step.output
    a = pd.read_parquet(tmp_path / "a.parquet").set_index("user_id")
    b = pd.read_parquet(tmp_path / "b.parquet").set_index("user_id")
    # and the forecasts of the model's forecaster (the run's log has repeat purchases)
    assert list(b.columns) == ["segment", "persona", "novel", "p_alive", "expected_events",
                               "expected_value", "at_risk"]
    assert b["segment"].to_dict() == a["segment"].to_dict()
    personas = json.loads((run_dir / "personas.json").read_text())["personas"]
    names = {p["segment"]: p["name"] for p in personas}
    assert b["persona"].tolist() == b["segment"].map(names).tolist()


def test_assign_events_early_answers_young_users_from_their_window(early_cli_run, tmp_path):
    run_dir, _, events, truth, _ = early_cli_run
    # every 4th user joined in the log's last week: their events moved by whole weeks
    # (weekday and hour features unchanged) to start in the 7 days before the reference
    reference = events["time"].max().normalize() + pd.Timedelta(days=1)
    firsts = events.groupby("user_id")["time"].transform("min").dt.normalize()
    weeks = np.ceil((reference - pd.Timedelta(days=7) - firsts).dt.days / 7)
    young_users = (events["user_id"] % 4 == 0).to_numpy()
    moved = events["time"] + pd.to_timedelta(np.where(young_users, weeks * 7, 0), unit="D")
    recent = events.assign(time=moved)[moved < reference]
    log = tmp_path / "recent.parquet"
    recent.to_parquet(log)
    day = reference.date().isoformat()
    result = invoke("assign", run_dir / "model", "--events", log, "--early",
                    "--reference-date", day, "--out", tmp_path / "early.csv")
    assert result.exit_code == 0, result.output
    assert "by the early model: first 7 days: 20" in result.output
    got = pd.read_csv(tmp_path / "early.csv").set_index("user_id")
    segments = pd.read_parquet(run_dir / "users_segmented.parquet").set_index("user_id")
    young = got.loc[got.index % 4 == 0]
    assert set(young["source"]) == {"early"} and set(young["early_days"]) == {7}
    assert (young["age_days"] <= 7).all()
    old = got.loc[got.index % 4 != 0]
    assert set(old["source"]) == {"core"} and old["early_days"].isna().all()
    assert (old["segment"] == segments.loc[old.index, "segment"]).all()
    agree = np.mean(young["segment"].to_numpy() == segments.loc[young.index, "segment"])
    assert agree >= 0.9
    # without --early the core model answers everyone, young users from a few days of data
    core = invoke("assign", run_dir / "model", "--events", log, "--reference-date", day,
                  "--out", tmp_path / "core.parquet")
    assert core.exit_code == 0, core.output
    plain = pd.read_parquet(tmp_path / "core.parquet").set_index("user_id")
    assert "source" not in plain.columns and len(plain) == len(got) == len(truth)
    assert (plain.loc[old.index, "segment"] == old["segment"]).all()


def test_bad_inputs_are_one_line_errors(early_cli_run, events_run, tmp_path):
    run_dir, log, _, _, _ = early_cli_run
    bare = tmp_path / "run"
    shutil.copytree(run_dir, bare)
    shutil.rmtree(bare / "model" / "early")
    cases = [
        (["assign", bare / "model", "--events", log, "--early", "--out", tmp_path / "x.csv"],
         "has no early model"),
        (["run", log, "--events", "--early-days", "0,x", "--out", tmp_path / "r"],
         "--early-days must be whole numbers"),
        (["run", log, "--events", "--early-days", "0", "--out", tmp_path / "r"],
         "--early-days needs at least one window"),
        (["run", log, "--early-days", "7", "--out", tmp_path / "r"],
         "--early-days needs --events"),
        (["assign", events_run[0] / "model", "--events", log, "--out", tmp_path / "x.csv"],
         "was not made from an event log"),
        (["assign", run_dir / "model", log, "--events", log, "--out", tmp_path / "x.csv"],
         "not both"),
    ]
    for args, words in cases:
        result = invoke(*args)
        assert result.exit_code == 2, (args, result.output)
        assert words in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "r").exists()
    with pytest.raises(ConfigError, match="early_days: needs at least one window"):
        build(EventsConfig, {"early_days": [0, 7]})


def test_the_early_stage_reads_csv_and_parquet_logs_alike(planted_log, tmp_path):
    """The rows the windows are cut from: ids and times typed as from_events types them,
    whatever the file stores (CSV: text; Parquet: numbers and timestamps)."""
    from personae.features.events import event_rows

    events, _ = planted_log
    events.to_parquet(tmp_path / "log.parquet")
    events.assign(time=events["time"].dt.strftime("%d/%m/%Y %H:%M")).to_csv(
        tmp_path / "log.csv", index=False)
    mapping = {"user": "user_id", "time": "time", "value": "value"}
    typed = event_rows(tmp_path / "log.parquet", mapping)
    text = event_rows(tmp_path / "log.csv", mapping, time_format="%d/%m/%Y %H:%M")
    assert list(text.columns) == ["user_id", "time", "value"]
    pd.testing.assert_series_equal(text["time"], typed["time"], check_dtype=False)
    assert text["user_id"].astype(str).tolist() == typed["user_id"].astype(str).tolist()
    with pytest.raises(DataError, match="columns \\['spend'\\] of the mapping are missing"):
        event_rows(tmp_path / "log.parquet", {**mapping, "value": "spend"})


def test_young_users_with_float_ids_over_http(serve_model, early_cli_run):
    """Ids sent as 1000.0 (a float column on its way through pandas) find their events."""
    run_dir, _, events, _, _ = early_cli_run
    segments = pd.read_parquet(run_dir / "users_segmented.parquet").set_index("user_id")
    firsts = events.groupby("user_id")["time"].transform("min")
    sent = events[events["user_id"].isin([1000, 1001])
                  & (events["time"] < firsts + pd.Timedelta(days=5))]
    sent = sent.assign(user_id=sent["user_id"].astype(float),
                       time=sent["time"].dt.strftime("%Y-%m-%d %H:%M:%S"))
    running = serve_model(run_dir / "model")
    with running.client() as client:
        answer = client.post("/assign/events", json={"events": sent.to_dict("records")})
    assert answer.status_code == 200, answer.text
    rows = answer.json()["assignments"]
    assert [(r["user_id"], r["source"], r["early_days"]) for r in rows] == [
        (1000, "early", 7), (1001, "early", 7)]
    assert [r["segment"] for r in rows] == segments.loc[[1000, 1001], "segment"].tolist()
