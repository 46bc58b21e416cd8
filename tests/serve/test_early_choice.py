"""Early assignment that earns its place: per window the predictor of the best held-out
agreement (k-NN, the core model on the early features, or their blend), and "not yet
known" where even that one is below ``early_abstain_below``. Two known answers: a log whose
first week tells the final segment (a predictor wins, nobody abstains) and one whose first
two weeks are alike for everyone (the segments part later: the window abstains)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from personae.cli import app as cli_app
from personae.serve.early import EarlyModel, learn_early
from personae.serve.early_predictors import PREDICTORS, agreement_interval, choose
from serve.helpers import early_run


def alike_then_apart(n_users: int = 240, seed: int = 1) -> tuple[pd.DataFrame, dict[str, int]]:
    """Three groups alike for their first 14 days (a purchase every 2-4 days, any hour,
    small baskets); then group 0 never comes back, group 1 buys daily and group 2 every
    week with baskets ten times larger, for 120 days. Nothing in the first 14 days tells
    a user's group."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01")
    rows, truth = [], {}
    for u in range(n_users):
        group = u % 3
        user = 5000 + u
        truth[str(user)] = group
        first = start + pd.Timedelta(days=int(rng.integers(0, 30)))
        day = 0.0
        while day < 134:
            alike = day < 14
            if not alike and group == 0:
                break
            stamp = first.normalize() + pd.Timedelta(days=int(day), hours=int(rng.integers(0, 24)),
                                                     minutes=int(rng.integers(0, 60)))
            value = rng.uniform(5, 20) * (10 if not alike and group == 2 else 1)
            rows.append({"user_id": user, "time": stamp, "value": float(value)})
            day += rng.uniform(2, 4) if alike else (1.0 if group == 1 else 7.0)
    return pd.DataFrame(rows), truth


def invoke(*args: object) -> object:
    return CliRunner().invoke(cli_app, [str(a) for a in args])


@pytest.fixture(scope="module")
def undecided_run(tmp_path_factory):
    events, truth = alike_then_apart()
    run_dir, log, output = early_run(tmp_path_factory.mktemp("undecided"), events, "7", 3)
    return run_dir, log, events, truth, output


def test_choose_takes_the_best_and_breaks_ties_simplest_first():
    assert choose({"core": 0.5, "knn": 0.7, "blend": 0.6}) == "knn"
    assert choose({"core": 0.6, "knn": 0.6, "blend": 0.6}) == "core"
    assert choose({"core": 0.4, "knn": 0.6, "blend": 0.6}) == "knn"
    low, high = agreement_interval(0.5, 100)
    assert low == pytest.approx(0.4038, abs=1e-3) and high == pytest.approx(0.5962, abs=1e-3)


def test_a_telling_first_week_picks_a_predictor_and_answers(events_run):
    from personae.model import SegmentModel

    run_dir, events = events_run
    model = SegmentModel.load(run_dir / "model")
    users = pd.read_parquet(run_dir / "users_segmented.parquet")
    early = learn_early(model, users["user_id"], users["segment"].to_numpy(), events, [7],
                        abstain_below=0.5)
    (check,) = early.validation
    assert check.chosen in PREDICTORS and not check.abstains
    assert check.chosen_agreement == max(check.agreements.values()) >= 0.9
    assert set(check.agreements) == set(PREDICTORS)
    low, high = check.as_dict()["intervals"][check.chosen]
    assert low < check.chosen_agreement <= high and low > check.majority_baseline
    assert early.windows[0].predictor == check.chosen and not early.windows[0].abstains


def test_alike_first_weeks_abstain_in_run_json_report_and_output(undecided_run):
    run_dir, _, _, truth, output = undecided_run
    users = pd.read_parquet(run_dir / "users_segmented.parquet")
    planted = users["user_id"].astype(str).map(truth).to_numpy()
    # the run found the three later groups (in some numbering)
    assert pd.crosstab(planted, users["segment"]).max(axis=1).sum() >= 0.95 * len(users)
    (check,) = json.loads((run_dir / "run.json").read_text())["early"]["validation"]
    assert check["abstains"] is True and check["chosen_agreement"] < 0.5
    for low, high in check["intervals"].values():
        assert low < 0.5 and high > 1 / 3 - 0.05  # chance, not knowledge
    assert "not yet known" in output
    html = (run_dir / "report.html").read_text()
    assert "blend of the two" in html and "not yet known" in html


def test_an_abstaining_window_answers_not_yet_known_with_probabilities(undecided_run,
                                                                      tmp_path, serve_model):
    run_dir, log, events, _, _ = undecided_run
    early = EarlyModel.load(run_dir / "model")
    assert early.windows[0].abstains and early.abstain_below == 0.5
    reference = events["time"].max().normalize() + pd.Timedelta(days=1)
    firsts = events.groupby("user_id")["time"].transform("min")
    # every user's first days, moved by whole weeks (weekday and hour features unchanged)
    # to start in the 7 days before the reference
    weeks = np.ceil((reference - pd.Timedelta(days=7) - firsts.dt.normalize()).dt.days / 7)
    young = events.assign(time=events["time"] + pd.to_timedelta(weeks * 7, unit="D"))
    young = young[young["time"] < reference]
    path = tmp_path / "young.parquet"
    young.to_parquet(path)
    result = invoke("assign", run_dir / "model", "--events", path, "--early",
                    "--reference-date", reference.date().isoformat(),
                    "--out", tmp_path / "early.csv")
    assert result.exit_code == 0, result.output
    assert f"not yet known: {young['user_id'].nunique()}" in result.output
    got = pd.read_csv(tmp_path / "early.csv")
    assert got["segment"].isna().all() and set(got["persona"]) == {"not yet known"}
    shares = got.filter(like="p_segment_")
    assert list(shares.columns) == ["p_segment_0", "p_segment_1", "p_segment_2"]
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    assert set(got["early_predictor"]) == {early.windows[0].predictor}
    sent = young[young["user_id"] == young["user_id"].iloc[0]]
    sent = sent.assign(time=sent["time"].dt.strftime("%Y-%m-%d %H:%M:%S"))
    with serve_model(run_dir / "model").client() as client:
        answer = client.post("/assign/events", json={
            "events": sent.to_dict("records"), "reference_date": reference.date().isoformat()})
    assert answer.status_code == 200, answer.text
    (row,) = answer.json()["assignments"]
    assert row["segment"] is None and row["persona"] == "not yet known"
    assert row["source"] == "early" and row["early_days"] == 7
    assert set(row["segment_probabilities"]) == {"0", "1", "2"}
    assert sum(row["segment_probabilities"].values()) == pytest.approx(1.0)


def test_a_version_1_file_reads_as_its_k_nn(undecided_run, tmp_path):
    import shutil

    run_dir = undecided_run[0]
    folder = tmp_path / "model"
    shutil.copytree(run_dir / "model", folder)
    path = folder / "early" / "early.json"
    document = json.loads(path.read_text())
    document["format_version"] = 1
    for window in document["windows"]:
        del window["predictor"], window["abstains"]
    del document["abstain_below"]
    path.write_text(json.dumps(document))
    old = EarlyModel.load(folder)
    assert old.windows[0].predictor == "knn" and not old.windows[0].abstains
    assert old.abstain_below == 0.0


def test_the_abstain_level_is_a_share():
    from personae.config import EventsConfig, build
    from personae.errors import ConfigError

    assert EventsConfig().early_abstain_below == 0.5
    with pytest.raises(ConfigError, match=r"early_abstain_below: must be a share of held-out "
                                          r"users in \[0, 1\]; got 1\.5"):
        build(EventsConfig, {"early_abstain_below": 1.5})


def test_the_core_models_label_becomes_the_shares_its_training_users_ended_in():
    from personae.serve.early_predictors import fit_window

    # early label 0: 3 of 4 users ended in segment 1; label 5: both in segment 0
    frame = pd.DataFrame({"f": np.arange(6, dtype=float)})
    window = fit_window(frame, np.array([1, 1, 1, 0, 0, 0]), 7, ["f"], k=3,
                        core=np.array([0, 0, 0, 0, 5, 5]))
    prior = np.array([0.5, 0.5])  # the segments' overall shares: one pseudo-user of them
    got = window.core_probabilities(np.array([0, 5, 9]))
    np.testing.assert_allclose(got[0], (np.array([1, 3]) + prior) / 5)
    np.testing.assert_allclose(got[1], (np.array([2, 0]) + prior) / 3)
    np.testing.assert_allclose(got[2], prior)  # a label no training user had
    labels, probability, _ = window.predict(frame.head(3), np.array([0, 5, -1]), "core")
    assert labels.tolist() == [0, 5, -1]  # the core model's own labels, edge users kept
    assert probability[0] == pytest.approx(0.3) and np.isnan(probability[1:]).all()


def test_a_run_from_before_the_choice_still_renders_its_early_section(undecided_run,
                                                                      tmp_path):
    import shutil

    from personae.report import write_report

    run_dir = tmp_path / "run"
    shutil.copytree(undecided_run[0], run_dir)
    info = json.loads((run_dir / "run.json").read_text())
    new = ("blend_agreement", "chosen", "chosen_agreement", "abstains", "intervals")
    info["early"]["validation"] = [{k: v for k, v in check.items() if k not in new}
                                   for check in info["early"]["validation"]]
    del info["early"]["abstain_below"]
    (run_dir / "run.json").write_text(json.dumps(info))
    html = write_report(run_dir).read_text(encoding="utf-8")
    section = html[html.index('id="early"'):]
    section = section[:section.index("</section>")]
    assert "<td>k-NN</td>" in section and "<td>not yet known</td>" not in section
