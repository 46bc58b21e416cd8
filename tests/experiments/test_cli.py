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
    for row in table[table["level"] == "all"].itertuples():  # whole, though not a terminal
        assert f"{row.effect:+.4g}" in result.stdout and row.outcome in result.stdout
    assert "…" not in result.stdout


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


def test_uplift_after_a_run_adds_its_section_to_the_run_report(tmp_path) -> None:
    from experiments.planted import planted
    from personae.pipeline import segment
    from personae.report import write_report

    users, experiment = planted({0: 400, 1: 400}, {0: 0.2, 1: 0.3}, {0: 0.1, 1: 0.0}, seed=23)
    run = segment(users.drop(columns=["segment"]), k=2, algorithm="kmeans",
                  stability=False).save(tmp_path / "run")
    write_report(run, map_method="none")
    path = tmp_path / "exp.parquet"
    experiment.to_parquet(path)
    result = runner.invoke(app, ["uplift", str(run), str(path), "--arm", "arm", "--control",
                                 "control", "--outcome", "conversion", "--out",
                                 str(tmp_path / "uplift")])
    assert result.exit_code == 0, result.output
    html = (run / "report.html").read_text(encoding="utf-8")
    assert 'id="uplift"' in html and "Uplift per segment" in html
    cells = pd.read_csv(tmp_path / "uplift" / "uplift.csv")
    assert html.count("<td>treated</td>") == (cells["level"] == "segment").sum() == 2
