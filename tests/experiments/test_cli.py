"""`personae uplift` through Typer's runner."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from personae.cli import app

runner = CliRunner()


def test_uplift_command_writes_outputs_and_summary(planted_run, tmp_path) -> None:
    run, experiment = planted_run(seed=21)
    path = tmp_path / "exp.parquet"
    experiment.to_parquet(path)
    out = tmp_path / "uplift"
    result = runner.invoke(app, ["uplift", str(run), str(path), "--arm", "arm", "--control",
                                 "control", "--outcome", "conversion,spend", "--out", str(out),
                                 "--expected-split", "control=1,treated=1"])
    assert result.exit_code == 0, result.output
    assert "heterogeneity between segments" in result.output
    assert "targeting conversion" in result.output
    table = pd.read_csv(out / "uplift.csv")
    assert len(table) == (1 + 3) * 2


def test_uplift_command_bad_input_is_one_line_exit_2(planted_run, tmp_path) -> None:
    run, experiment = planted_run(seed=22)
    path = tmp_path / "exp.parquet"
    experiment.to_parquet(path)
    out = tmp_path / "uplift"
    for extra, message in (
        (["--control", "nobody"], "control arm 'nobody' not found"),
        (["--control", "control", "--expected-split", "control"],
         "--expected-split takes arm=share pairs"),
    ):
        result = runner.invoke(app, ["uplift", str(run), str(path), "--arm", "arm",
                                     "--outcome", "conversion", "--out", str(out), *extra])
        assert result.exit_code == 2
        assert message in result.output and "Traceback" not in result.output
        assert not out.exists()
