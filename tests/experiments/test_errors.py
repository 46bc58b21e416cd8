"""Bad experiments are refused with one clear line naming the file and column."""

from __future__ import annotations

import pandas as pd
import pytest

from personae.errors import ConfigError, DataError, ModelFileError
from personae.experiments import uplift


@pytest.fixture
def run_and_experiment(planted_run):  # type: ignore[no-untyped-def]
    run, experiment = planted_run(seed=11, n_per_segment={0: 300, 1: 300, 2: 300})
    return run, experiment


def _uplift(run, experiment, **kwargs):  # type: ignore[no-untyped-def]
    options = {"arm": "arm", "control": "control", "outcomes": ["conversion"], **kwargs}
    return uplift(run, experiment, **options)


def test_duplicated_user_in_two_arms_is_refused(run_and_experiment) -> None:
    run, experiment = run_and_experiment
    twice = experiment.iloc[[0]].assign(arm="treated" if experiment["arm"].iloc[0] ==
                                        "control" else "control")
    with pytest.raises(DataError, match=r"1 users appear in more than one row \(1 of them "
                                        r"in more than one arm; e\.g\. user 'u\d+'"):
        _uplift(run, pd.concat([experiment, twice]))


def test_duplicated_row_is_refused(run_and_experiment) -> None:
    run, experiment = run_and_experiment
    with pytest.raises(DataError, match=r"\(0 of them in more than one arm"):
        _uplift(run, pd.concat([experiment, experiment.iloc[:3]]))


def test_unknown_control_lists_the_arms(run_and_experiment) -> None:
    run, experiment = run_and_experiment
    with pytest.raises(DataError, match=r"column 'arm': control arm 'placebo' not found; "
                                        r"arms are 'control', 'treated'"):
        _uplift(run, experiment, control="placebo")


def test_missing_column_is_named(run_and_experiment, tmp_path) -> None:
    run, experiment = run_and_experiment
    path = tmp_path / "exp.parquet"
    experiment.to_parquet(path)
    with pytest.raises(DataError, match=r"exp\.parquet: column 'revenue': outcome column "
                                        "not found"):
        _uplift(run, path, outcomes=["revenue"])


def test_text_outcome_is_refused(run_and_experiment, tmp_path) -> None:
    run, experiment = run_and_experiment
    experiment["conversion"] = experiment["conversion"].astype(str)
    experiment.loc[5, "conversion"] = "yes"
    path = tmp_path / "exp.csv"
    experiment.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"exp\.csv: column 'conversion': 1 values are not "
                                        r"numbers \(e\.g\. 'yes'\)"):
        _uplift(run, path)


def test_users_not_in_the_run_need_assign(run_and_experiment) -> None:
    run, experiment = run_and_experiment
    stranger = experiment.iloc[[0]].assign(user_id="nobody")
    with pytest.raises(DataError, match=r"column 'user_id': 1 experiment rows have users "
                                        r"that are not in the run .*first: nobody.*--assign"):
        _uplift(run, pd.concat([experiment, stranger]))


def test_missing_arm_is_refused(run_and_experiment) -> None:
    run, experiment = run_and_experiment
    experiment.loc[3, "arm"] = None
    with pytest.raises(DataError, match=r"column 'arm': 1 rows have no arm"):
        _uplift(run, experiment)


def test_expected_split_must_cover_the_arms(run_and_experiment) -> None:
    run, experiment = run_and_experiment
    with pytest.raises(ConfigError, match=r"--expected-split must give a share for each arm"):
        _uplift(run, experiment, expected_split={"control": 1.0})


def test_not_a_run_folder(tmp_path, run_and_experiment) -> None:
    _, experiment = run_and_experiment
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFileError, match=r"empty: not a personae run folder \(no run\.json\); "
                                             r"is this a folder written by 'personae run'"):
        _uplift(tmp_path / "empty", experiment)


def test_bad_parameters(run_and_experiment) -> None:
    run, experiment = run_and_experiment
    with pytest.raises(ConfigError, match=r"alpha must be in \(0, 1\); got 1.5"):
        _uplift(run, experiment, alpha=1.5)
    with pytest.raises(ConfigError, match=r"must be different columns"):
        _uplift(run, experiment, outcomes=["arm"])


def test_save_refuses_a_foreign_folder(run_and_experiment, tmp_path) -> None:
    run, experiment = run_and_experiment
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match=r"mine: exists and is not an earlier uplift folder"):
        _uplift(run, experiment).save(out)
    assert (out / "notes.txt").read_text() == "keep me"
