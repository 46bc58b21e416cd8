"""personae monitor / personae compare through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from personae.cli import app

runner = CliRunner()


def test_monitor_and_compare_write_their_folders(run_a: Path, planted, tmp_path: Path):
    new = tmp_path / "new.csv"
    frame = planted[0].copy()
    frame["m0"] += frame["m0"].std()
    frame.to_csv(new, index=False)
    result = runner.invoke(app, ["monitor", str(run_a), str(new), "--out",
                                 str(tmp_path / "mon")])
    assert result.exit_code == 0, result.output
    assert "m0" in result.output and "significant" in result.output
    assert "retrain: yes" in result.output
    drift = pd.read_csv(tmp_path / "mon" / "drift.csv")
    assert drift.loc[0, "feature"] == "m0" and drift.loc[0, "verdict"] == "significant"
    assert (tmp_path / "mon" / "monitor.html").is_file()

    result = runner.invoke(app, ["compare", str(run_a), str(run_a), "--out",
                                 str(tmp_path / "cmp")])
    assert result.exit_code == 0, result.output
    fates = pd.read_csv(tmp_path / "cmp" / "segment_matching.csv")
    assert (fates["fate"] == "survives").all()
    assert (fates["old_segment"] == fates["new_ids"]).all()
    summary = json.loads((tmp_path / "cmp" / "monitor.json").read_text())
    assert summary["stayed_share"] == 1.0 and summary["segment_psi"] == 0


@pytest.mark.parametrize("case", ["no_run", "bad_number", "missing_column", "foreign_out",
                                  "bad_map"])
def test_bad_input_is_one_line_exit_2_and_nothing_written(run_a: Path, planted,
                                                          tmp_path: Path, case: str):
    new = tmp_path / "new.csv"
    frame = planted[0].copy()
    out = tmp_path / "mon"
    args = ["monitor", str(run_a), str(new), "--out", str(out)]
    expected = ""
    if case == "no_run":
        args[1] = str(tmp_path)
        expected = "not a personae run folder"
    elif case == "bad_number":
        frame = frame.astype({"m2": object})
        frame.loc[9, "m2"] = "n/a?"
        expected = "new.csv: column 'm2', row 10: 'n/a?' is not a number"
    elif case == "missing_column":
        frame = frame.drop(columns=["m3"])
        expected = "column 'm3' used by the model is missing"
    elif case == "foreign_out":
        out.mkdir()
        (out / "mine.txt").write_text("keep")
        expected = "is not an earlier personae monitor folder"
    else:
        args += ["--events", "--map", "usr=Customer"]
        expected = "--map takes role=column pairs"
    frame.to_csv(new, index=False)
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert expected in " ".join(result.output.split()), result.output
    assert "Traceback" not in result.output
    if case == "foreign_out":
        assert (out / "mine.txt").read_text() == "keep" and len(list(out.iterdir())) == 1
    else:
        assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".mon")]


def _event_log(path: Path, users: int, seed: int, spend: float) -> Path:
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(users):
        heavy = u % 3 == 0
        for _ in range(rng.integers(8, 14) if heavy else rng.integers(1, 4)):
            day = int(rng.integers(0, 90))
            rows.append((f"c{u:04d}", pd.Timestamp("2024-01-01") + pd.Timedelta(days=day,
                                                                                 hours=10),
                         float(rng.gamma(2.0, spend * (3 if heavy else 1)))))
    pd.DataFrame(rows, columns=["customer", "ts", "amount"]).to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_monitor_an_event_log_with_the_runs_mapping(tmp_path: Path):
    first = _event_log(tmp_path / "q1.csv", 300, 0, 20.0)
    later = _event_log(tmp_path / "q2.csv", 300, 1, 40.0)  # everyone spends twice as much
    mapping = "user=customer,time=ts,value=amount"
    result = runner.invoke(app, ["run", str(first), "--events", "--map", mapping, "--out",
                                 str(tmp_path / "run"), "--k", "2", "--algorithm", "kmeans",
                                 "--report-map", "none"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["monitor", str(tmp_path / "run"), str(later), "--events",
                                 "--out", str(tmp_path / "mon")])
    assert result.exit_code == 0, result.output
    drift = pd.read_csv(tmp_path / "mon" / "drift.csv").set_index("feature")
    assert drift.loc["monetary_total", "verdict"] == "significant"
    assert len(drift) > 10  # the terminal shows 10 and says where the rest are
    assert f"drift of {len(drift)} features" in result.stdout
    assert "the 10 largest here, all in drift.csv" in " ".join(result.stdout.split())
    summary = json.loads((tmp_path / "mon" / "monitor.json").read_text())
    assert summary["users_in_both"] == 300
    assert any("mapping" in n and "customer" in n for n in summary["notes"]), summary["notes"]


def test_monitor_a_new_export_whose_columns_are_named_otherwise(tmp_path: Path):
    first = _event_log(tmp_path / "q1.csv", 200, 0, 20.0)
    result = runner.invoke(app, ["run", str(first), "--events", "--map",
                                 "user=customer,time=ts,value=amount", "--out",
                                 str(tmp_path / "run"), "--k", "2", "--algorithm", "kmeans",
                                 "--report-map", "none"])
    assert result.exit_code == 0, result.output
    later = pd.read_csv(_event_log(tmp_path / "q2.csv", 200, 1, 20.0))
    later.columns = ["Customer ID", "Timestamp", "Amount"]  # the same log, another export
    later.to_csv(tmp_path / "export.csv", index=False)
    result = runner.invoke(app, ["monitor", str(tmp_path / "run"),
                                 str(tmp_path / "export.csv"), "--events", "--out",
                                 str(tmp_path / "mon")])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert ("the run's columns 'customer', 'ts', 'amount' are not in "
            f"{tmp_path / 'export.csv'}; detected by name instead: user='Customer ID', "
            "time='Timestamp', value='Amount'") in said
    assert json.loads((tmp_path / "mon" / "monitor.json").read_text())["users_in_both"] == 200

    later.columns = ["who", "when", "Amount"]  # nothing to detect: the message of before
    later.to_csv(tmp_path / "export.csv", index=False)
    result = runner.invoke(app, ["monitor", str(tmp_path / "run"),
                                 str(tmp_path / "export.csv"), "--events", "--out",
                                 str(tmp_path / "mon2")])
    assert result.exit_code == 2
    assert "column 'customer': mapped column for user does not exist" in result.output
