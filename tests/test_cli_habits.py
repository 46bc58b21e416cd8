"""Habits of a command line: global flags after the command, and output to a pipe or a file
that never cuts a number or a name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from generated import blob_users
from personae.cli import app

runner = CliRunner()

LONG = "monthly_spend_in_pounds_sterling_over_the_last_twelve_months"


def _users(path: Path) -> Path:
    frame, _ = blob_users(n=300, k=3, n_features=3, seed=4)
    frame.columns = ["user_id", LONG, f"{LONG}_online", f"{LONG}_in_store"]
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("flag", ["--quiet", "-q", "--debug"])
def test_global_flags_are_accepted_after_the_command(tmp_path: Path, flag: str) -> None:
    result = runner.invoke(app, ["run", str(_users(tmp_path / "users.csv")), "--out",
                                 str(tmp_path / "run"), "--k", "3", "--algorithm", "kmeans",
                                 "--no-stability", "--report-map", "none", flag])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "run.json").is_file()
    rows = [line for line in result.stdout.splitlines() if "σ" in line]
    assert len(rows) == 3 and all(row.count(LONG) == 3 for row in rows), result.stdout


def test_a_flag_after_a_double_dash_stays_an_argument(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--out", str(tmp_path / "run"), "--", "--quiet"])
    assert result.exit_code == 2
    assert "--quiet" in result.output  # the input named '--quiet' is missing


def test_piped_tables_keep_every_name_whole(tmp_path: Path) -> None:
    """A real process whose stdout is a pipe (as in ``| cat`` or a log): rich would fit the
    table into 80 columns and end the names with an ellipsis."""
    users = _users(tmp_path / "users.csv")
    env = {**os.environ, "COLUMNS": "80"}
    env.pop("FORCE_COLOR", None)
    done = subprocess.run(
        [sys.executable, "-m", "personae.cli", "run", str(users), "--out", str(tmp_path / "r"),
         "--k", "3", "--algorithm", "kmeans", "--no-stability", "--report-map", "none",
         "--quiet"],
        capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if "σ" in line]
    assert len(rows) == 3 and "…" not in done.stdout
    for row in rows:  # each segment on one line, its three traits whole
        assert row.count(LONG) == 3, row
