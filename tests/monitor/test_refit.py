"""monitor --refit: a fresh run on the new users with the run's own config, matched to the
run's segments as compare matches two runs. Known answers: unchanged users keep every
segment with its id; a planted split is named as a split; edge users are no persona."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import personae
from monitor.helpers import planted_users
from personae.errors import ModelFileError
from personae.monitor import monitor


@pytest.fixture(scope="module")
def run_auto(tmp_path_factory: pytest.TempPathFactory, planted) -> Path:
    """K chosen by the run (2..5), so a refit may find another number of segments."""
    folder = tmp_path_factory.mktemp("refit") / "run_auto"
    personae.segment(planted[0], algorithm="kmeans", k_range=(2, 5), stability=False
                     ).save(folder)
    return folder


def test_unchanged_users_keep_every_segment_with_its_id(run_a: Path, planted, tmp_path):
    result = monitor(run_a, planted[0].sample(frac=1, random_state=3), refit=True)
    fates = result.matching.fates
    assert (fates["fate"] == "survives").all() and len(fates) == 3
    assert result.matching.ids == {0: 0, 1: 1, 2: 2}
    assert result.summary["refit"]["segments"] == 3
    assert result.summary["refit"]["stayed_share"] == 1.0
    # the monitor's own view (the old model, no refit) is unchanged by --refit
    assert (result.drift["verdict"] == "stable").all() and result.shift.psi == 0

    out = result.save(tmp_path / "mon")
    table = pd.read_csv(out / "segment_matching.csv")
    assert (table["old_segment"] == table["new_ids"]).all()
    governance = json.loads((out / "governance.json").read_text())
    assert governance["retrain"] is False and governance["refit"]["retrain"] is False
    refit = out / "refit"  # a whole run folder, ready to promote
    info = json.loads((refit / "run.json").read_text())
    assert info["config"]["segmentation"] == json.loads(
        (run_a / "run.json").read_text())["config"]["segmentation"]
    assert personae.SegmentModel.load(refit / "model").n_clusters_ == 3


def test_a_planted_split_is_named_by_the_refit(run_auto: Path, planted):
    frame, group = planted
    split = frame.copy()
    rng = np.random.default_rng(2)
    split.loc[group == 0, "m3"] += np.where(rng.random((group == 0).sum()) < 0.5, -5, 5)
    result = monitor(run_auto, split, refit=True)
    fates = result.matching.fates
    assert fates["fate"].value_counts().to_dict() == {"survives": 2, "splits into": 1}
    labels = pd.read_parquet(run_auto / "users_segmented.parquet")["segment"].to_numpy()
    old_zero = int(np.bincount(labels[group == 0]).argmax())
    row = fates.set_index("old_segment").loc[old_zero]
    assert row["fate"] == "splits into" and len(row["new_segments"].split(";")) == 2
    assert result.summary["refit"]["segments"] == 4
    # without --refit the same users are only monitored: no matching
    assert monitor(run_auto, split).matching is None


def test_edge_users_are_assigned_as_the_model_does_and_never_matched(tmp_path: Path):
    frame, _ = planted_users(n=600)
    far = frame.iloc[:6].copy()
    far["user_id"] = [f"far{i}" for i in range(6)]
    far[["m0", "m1", "m2", "m3"]] = np.random.default_rng(5).normal(size=(6, 4)) + 30
    users = pd.concat([frame, far], ignore_index=True)
    fitted = personae.segment(users, persona_levels=True, algorithm="kmeans", k=3,
                              stability=False)
    assert (fitted.labels == -1).sum() == 6  # the far users are edge users
    fitted.save(tmp_path / "run")

    result = monitor(tmp_path / "run", users, refit=True)
    # the persona level is what the model answers with (not the natural partition)
    assert result.summary["stayed_share"] == 1.0 and result.shift.psi == 0
    assert -1 not in result.matching.ids and -1 not in set(result.matching.ids.values())
    assert result.matching.fates["old_segment"].min() >= 0
    assert (result.matching.fates["fate"] == "survives").all()
    assert (result.matching.fates["to_edge"] == 0).all()
    shift = result.refit.comparison.segment_shift.set_index("segment")
    assert shift.loc[-1, "reference_users"] == shift.loc[-1, "new_users"] == 6


def test_refit_needs_the_runs_config(run_a: Path, planted, tmp_path: Path):
    import shutil

    run = tmp_path / "old"
    shutil.copytree(run_a, run)
    info = json.loads((run / "run.json").read_text())
    del info["config"]
    (run / "run.json").write_text(json.dumps(info))
    with pytest.raises(ModelFileError, match="records no config block"):
        monitor(run, planted[0], refit=True)


def test_cli_monitor_refit_writes_a_run_folder_to_promote(run_a: Path, planted, tmp_path):
    from typer.testing import CliRunner

    from personae.cli import app

    new = tmp_path / "new.csv"
    planted[0].to_csv(new, index=False)
    out = tmp_path / "mon"
    result = CliRunner().invoke(app, ["monitor", str(run_a), str(new), "--refit", "--out",
                                      str(out)])
    assert result.exit_code == 0, result.output
    assert "refit on the new users: 3 segments" in result.output
    assert "segment 0: survives id 0 (refit's 0)" in result.output
    assert (out / "segment_matching.csv").is_file() and (out / "refit" / "report.html").is_file()
    summary = json.loads((out / "monitor.json").read_text())
    assert summary["refit"]["fates"] == {"survives": 3} and summary["refit"]["folder"] == "refit"
