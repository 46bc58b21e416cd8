"""The command line, driven through Typer's runner, including every bad input we promise."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from personae.cli import app

runner = CliRunner()


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, [str(a) for a in args])


def test_run_writes_every_output(tmp_path: Path, blobs_csv: Path) -> None:
    out = tmp_path / "run"
    result = invoke("run", blobs_csv, "--out", out, "--seed", "3")
    assert result.exit_code == 0, result.output
    assert "5 segments of 3,000 users" in result.stdout
    names = {p.name for p in out.iterdir()}
    assert {"users_segmented.csv", "users_segmented.parquet", "segment_profiles.csv",
            "k_selection.csv", "model", "run.json"} <= names
    users = pd.read_parquet(out / "users_segmented.parquet")
    assert list(users.columns[:2]) == ["user_id", "segment"] and "metric_0" in users
    assert {"novel", "broad_segment", "natural_segment"} <= set(users.columns)
    assert (users["natural_segment"].nunique(), users["segment"].nunique()) == (5, 5)
    assert len(users) == 3000 and users["segment"].nunique() == 5
    assert pd.read_csv(out / "users_segmented.csv")["segment"].tolist() == \
        users["segment"].tolist()
    info = json.loads((out / "run.json").read_text())
    assert info["config"]["segmentation"]["random_state"] == 3
    assert info["k_selection"]["chosen_k"] == 5
    assert {"read", "preprocess", "choose_k", "cluster", "profile", "write"} <= \
        set(info["timings_seconds"])
    assert info["library_versions"]["scikit-learn"]
    profiles = pd.read_csv(out / "segment_profiles.csv")
    assert set(profiles["segment"]) == set(range(5))
    assert not list(tmp_path.glob(".run.*")), "staging folders must not be left behind"


def test_run_options(tmp_path: Path, blobs: tuple[pd.DataFrame, np.ndarray]) -> None:
    frame, _ = blobs
    frame = frame.rename(columns={"user_id": "member"})
    path = tmp_path / "users.parquet"
    frame.to_parquet(path)
    out = tmp_path / "run"
    result = invoke("run", path, "--out", out, "--id-column", "member", "--features",
                    "metric_0,metric_1,metric_2", "--k", "4", "--scaler", "robust",
                    "--impute", "knn", "--no-log")
    assert result.exit_code == 0, result.output
    info = json.loads((out / "run.json").read_text())
    assert info["features_used"] == ["metric_0", "metric_1", "metric_2"]
    assert info["segments"]["k"] == 4 and info["k_selection"] is None
    assert info["config"]["segmentation"]["scaler"] == "robust" and info["id_column"] == "member"


def test_run_reads_declared_codes_as_categories(tmp_path: Path,
                                                blobs: tuple[pd.DataFrame, np.ndarray]) -> None:
    frame, _ = blobs
    frame["region"] = np.arange(len(frame)) % 3 + 1
    path = tmp_path / "users.csv"
    frame.to_csv(path, index=False)
    result = invoke("run", path, "--out", tmp_path / "run", "--algorithm", "kmeans",
                    "--categorical", "region")
    assert result.exit_code == 0, result.output
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["config"]["segmentation"]["categorical"] == ["region"]
    assert {"region=1", "region=2", "region=3"} <= set(info["features_used"])
    assert any(d["column"] == "region" and d["action"] == "encoded" for d in info["cleaning"])


def test_assign_labels_new_users_like_the_fit(tmp_path: Path, blobs_csv: Path) -> None:
    out = tmp_path / "run"
    assert invoke("run", blobs_csv, "--out", out).exit_code == 0
    assigned = tmp_path / "assigned.csv"
    result = invoke("assign", out / "model", blobs_csv, "--out", assigned)
    assert result.exit_code == 0, result.output
    fitted = pd.read_csv(out / "users_segmented.csv")
    again = pd.read_csv(assigned)
    assert again["segment"].tolist() == fitted["segment"].tolist()
    assert "assigned 3,000 users" in result.stdout
    names = {p["segment"]: p["name"] for p in
             json.loads((out / "personas.json").read_text())["personas"]}
    assert list(again.columns[:3]) == ["user_id", "segment", "persona"]
    assert again["persona"].tolist() == again["segment"].map(names).tolist()


def test_rerun_replaces_an_earlier_run_but_not_a_foreign_folder(tmp_path: Path,
                                                                blobs_csv: Path) -> None:
    out = tmp_path / "run"
    assert invoke("run", blobs_csv, "--out", out, "--k", "3").exit_code == 0
    assert invoke("run", blobs_csv, "--out", out, "--k", "4").exit_code == 0
    assert json.loads((out / "run.json").read_text())["segments"]["k"] == 4
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_text("precious")
    result = invoke("run", blobs_csv, "--out", foreign)
    assert result.exit_code == 2
    assert "is not an earlier personae run folder" in result.stderr
    assert (foreign / "holiday.jpg").read_text() == "precious"


def _users(rows: int = 30) -> str:
    rng = np.random.default_rng(0)
    lines = ["user_id,spend,visits"] + [
        f"u{i},{rng.gamma(2, 10):.2f},{rng.integers(1, 20)}" for i in range(rows)]
    return "\n".join(lines) + "\n"


BAD_INPUTS = {
    "missing file": (None, [], r"missing.csv: file not found"),
    "empty file": ("", [], r"empty_file.csv: file is empty"),
    "header only": ("user_id,spend\n", [], r"header_only.csv: file has a header but no rows"),
    "no usable feature": ("user_id,plan\nu1,a\nu2,a\nu3,a\n", [],
                          r"no usable feature column"),
    "duplicate ids": (_users().replace("u7,", "u3,"), [],
                      r"column 'user_id', row 8: duplicate id 'u3' on rows 4 and 8"),
    "text garbage": (_users().replace(_users().splitlines()[6], "u5,12abc,4"), [],
                     r"text_garbage.csv: column 'spend', row 6: '12abc' is not a number"),
    "inf value": (_users().replace(_users().splitlines()[2], "u1,inf,3"), [],
                  r"column 'spend', row 2: infinite value"),
    "all-NaN column": ("user_id,spend,visits\n" + "".join(f"u{i},,{i}\n" for i in range(9)),
                       [], r"column 'spend': every value is missing"),
    "fewer users than K": (_users(3), ["--k", "5"],
                           r"K=5 needs at least 25 users \(5 per segment\); the input has 3"),
    "k 1": (_users(), ["--k", "1"], r"--k must be at least 2"),
    "k above users": (_users(), ["--k", "7"],
                      r"K=7 needs at least 35 users \(5 per segment\); the input has 30"),
    "k not a number": (_users(), ["--k", "many"], r"--k must be 'auto' or an int >= 2; got 'many'"),
    "bad k range": (_users(), ["--k-range", "5..2"],
                    r"--k-range must be two ints with 2 <= low <= high; got \(5, 2\)"),
    "unknown feature": (_users(), ["--features", "spend,age"],
                        r"feature columns \['age'\] not found"),
    "unknown categorical": (_users(), ["--categorical", "region"],
                            r"categorical columns \['region'\] not found; columns are"),
    "empty categorical": (_users(), ["--categorical", " , "], r"--categorical is empty"),
    "unknown scaler": (_users(), ["--scaler", "zscore"],
                       r"--scaler must be one of standard, robust, minmax; got 'zscore'"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_clear_line_and_writes_nothing(tmp_path: Path, case: str) -> None:
    text, extra, message = BAD_INPUTS[case]
    path = tmp_path / ("missing.csv" if text is None else f"{case.replace(' ', '_')}.csv")
    if text is not None:
        path.write_text(text)
    out = tmp_path / "out"
    result = invoke("run", path, "--out", out, *extra)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    assert re.search(message, lines[0]), lines[0]
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [path.name] if path.exists() else [])


def test_assign_refuses_a_model_of_an_unknown_version(tmp_path: Path, blobs_csv: Path) -> None:
    out = tmp_path / "run"
    assert invoke("run", blobs_csv, "--out", out, "--k", "3").exit_code == 0
    model_json = out / "model" / "model.json"
    document = json.loads(model_json.read_text())
    document["format_version"] = 99
    model_json.write_text(json.dumps(document))
    target = tmp_path / "assigned.csv"
    result = invoke("assign", out / "model", blobs_csv, "--out", target)
    assert result.exit_code == 2
    assert "model format version 99 is not supported" in result.stderr
    assert not target.exists()


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = invoke("--debug", "run", tmp_path / "missing.csv", "--out", tmp_path / "o")
    assert result.exit_code != 0 and result.exception is not None
