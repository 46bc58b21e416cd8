"""End to end on run folders: monitor (no refit) and compare (refits) with planted truths."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import personae
from monitor.helpers import CENTERS, FEATURES, planted_users
from personae.errors import DataError, ModelFileError
from personae.monitor import compare, monitor
from personae.monitor.reference import Reference, build_reference


def test_monitor_of_the_training_users_finds_nothing(run_a, planted, tmp_path):
    result = monitor(run_a, planted[0])
    assert (result.drift["verdict"] == "stable").all()
    assert result.shift.psi == 0 and result.summary["stayed_share"] == 1.0
    assert result.transitions["users"].sum() == len(planted[0])
    assert result.governance.retrain is False and result.governance.suggestions == []
    # the run saved its reference with the model, so nothing had to be rebuilt
    assert (run_a / "model" / "reference.json").is_file()
    assert not any("rebuilt from" in n for n in result.summary["notes"])
    out = result.save(tmp_path / "mon")
    assert sorted(p.name for p in out.iterdir()) == [
        "drift.csv", "governance.json", "monitor.html", "monitor.json", "segment_shift.csv",
        "transition_matrix.csv", "transitions.csv"]
    summary = json.loads((out / "monitor.json").read_text())
    assert summary["drift_counts"] == {"stable": 5}
    result.save(tmp_path / "mon")  # an earlier monitor folder is replaced


def test_a_saved_reference_is_used_instead_of_rebuilding(run_a, planted, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(run_a, run)
    model = personae.SegmentModel.load(run / "model")
    labels = pd.read_parquet(run / "users_segmented.parquet")["segment"].to_numpy()
    build_reference(planted[0], labels, model).save(run / "model")
    result = monitor(run, planted[0])
    assert result.summary["notes"] == [] and result.summary["reference"] == "training"
    assert Reference.load(run / "model").n_users == len(planted[0])


def test_monitor_flags_the_planted_shift_and_a_split_group(run_a):
    frame, group = planted_users(seed=3)
    frame["m3"] += 1.0  # one SD
    rng = np.random.default_rng(0)
    frame.loc[group == 1, "m2"] += np.where(rng.random((group == 1).sum()) < 0.5, -4, 4)
    result = monitor(run_a, frame)
    verdicts = result.drift.set_index("feature")["verdict"]
    assert verdicts["m3"] == "significant" and verdicts["m0"] == verdicts["m1"] == "stable"
    assert verdicts["plan"] == "stable"
    splits = [s for s in result.governance.suggestions if s["action"] == "split"]
    trained = result.segment_shift  # the segment holding group 1 is the bimodal one
    assert len(splits) == 1 and "became bimodal" in splits[0]["reason"]
    assert result.governance.retrain is True and len(trained) == 3


def test_monitor_suggests_merging_two_segments_that_converged(run_a):
    frame, group = planted_users(seed=4)
    midpoint = (np.asarray(CENTERS[1]) + np.asarray(CENTERS[2])) / 2
    rng = np.random.default_rng(1)
    moved = (group == 1) | (group == 2)
    frame.loc[moved, FEATURES] = midpoint + rng.normal(scale=0.05, size=(moved.sum(), 4))
    result = monitor(run_a, frame)
    merges = [s for s in result.governance.suggestions if s["action"] == "merge"]
    assert len(merges) == 1
    labels = pd.read_parquet(run_a / "users_segmented.parquet")["segment"].to_numpy()
    expected = sorted({int(np.bincount(labels[planted_users()[1] == g]).argmax())
                       for g in (1, 2)})
    assert merges[0]["segments"] == expected


def test_monitor_refuses_bad_input_with_a_clear_message(run_a, planted, tmp_path):
    with pytest.raises(DataError, match="column 'm2' used by the model is missing"):
        monitor(run_a, planted[0].drop(columns=["m2"]))
    with pytest.raises(ModelFileError, match="not a personae run folder"):
        monitor(tmp_path, planted[0])
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "precious.txt").write_text("x")
    result = monitor(run_a, planted[0])
    with pytest.raises(DataError, match="is not an earlier personae monitor folder"):
        result.save(tmp_path / "keep")
    assert (tmp_path / "keep" / "precious.txt").read_text() == "x"
    assert not any(p.name.startswith(".keep") for p in tmp_path.iterdir())


def _run(frame, k, folder):
    personae.segment(frame, k=k, algorithm="kmeans").save(folder)
    return folder


@pytest.mark.slow
def test_compare_unchanged_split_and_merge(run_a, planted, tmp_path):
    frame, group = planted
    same = compare(run_a, _run(frame.sample(frac=1, random_state=1), 3, tmp_path / "same"))
    assert (same.matching.fates["fate"] == "survives").all()
    assert all(k == v for k, v in same.matching.ids.items())  # same data, same ids
    assert (same.drift["verdict"] == "stable").all()

    split = frame.copy()
    rng = np.random.default_rng(2)
    split.loc[group == 0, "m3"] += np.where(rng.random((group == 0).sum()) < 0.5, -5, 5)
    result = compare(run_a, _run(split, 4, tmp_path / "split"))
    fates = result.matching.fates
    assert fates["fate"].value_counts().to_dict() == {"survives": 2, "splits into": 1}
    old_zero = int(np.bincount(
        pd.read_parquet(run_a / "users_segmented.parquet")["segment"][group == 0]).argmax())
    row = fates.set_index("old_segment").loc[old_zero]
    assert row["fate"] == "splits into" and len(row["new_segments"].split(";")) == 2

    merged = frame.copy()  # groups 1 and 2 meet half way
    middle = (np.asarray(CENTERS[1]) + np.asarray(CENTERS[2])) / 2
    for g in (1, 2):
        merged.loc[group == g, FEATURES] = merged.loc[group == g, FEATURES].to_numpy() + \
            middle - np.asarray(CENTERS[g])
    result = compare(run_a, _run(merged, 2, tmp_path / "merge"))
    fates = result.matching.fates
    assert fates["fate"].value_counts().to_dict() == {"absorbed into": 2, "survives": 1}
    absorbed = fates[fates["fate"] == "absorbed into"]
    assert absorbed["new_segments"].nunique() == 1
    out = result.save(tmp_path / "cmp")
    assert (out / "segment_matching.csv").is_file()
    table = pd.read_csv(out / "transitions.csv")
    assert table["users"].sum() == len(frame)
