"""The README's examples run: its command-line tour and its Python API block."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from personae.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"


def _block(heading: str, language: str) -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index(heading):]
    match = re.search(rf"```{language}\n(.*?)```", section, flags=re.S)
    assert match, f"no {language} block under {heading!r} in README.md"
    return match.group(1)


def _users(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 3, n)
    return pd.DataFrame({
        "user_id": [f"u{i}" for i in range(n)],
        "visits": rng.poisson(np.array([2, 12, 30])[group]),
        "spend": rng.gamma(2.0, np.array([10.0, 60.0, 200.0])[group]).round(2),
        "plan": np.array(["free", "plus", "pro"])[group],
    })


def _events(n_users: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, 3000)
    return pd.DataFrame({
        "customer": [f"c{u}" for u in users],
        "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(
            rng.integers(0, 90 * 24 * 60, len(users)), unit="min"),
        "event": rng.choice(["view", "cart", "purchase"], len(users), p=[0.7, 0.2, 0.1]),
        "value": rng.gamma(2.0, 20.0, len(users)).round(2),
    })


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    _users(300).to_csv("users.csv", index=False)
    _users(300, seed=1).to_parquet("users.parquet", index=False)
    _users(40, seed=2).drop(columns=["user_id"]).to_csv("new_users.csv", index=False)
    _events(200).to_parquet("events.parquet", index=False)
    return tmp_path


@pytest.mark.slow
def test_the_command_line_tour_runs(workdir: Path) -> None:
    commands = [line.split("  #")[0].strip()
                for line in _block("## The command line", "bash").splitlines()
                if line.startswith("personae ")]
    assert len(commands) >= 5
    for command in commands:
        result = CliRunner().invoke(app, shlex.split(command)[1:])
        assert result.exit_code == 0, f"{command}\n{result.output}"
    again = pd.read_parquet(workdir / "runs/again/users_segmented.parquet")["segment"]
    first = pd.read_parquet(workdir / "runs/first/users_segmented.parquet")["segment"]
    assert again.tolist() == first.tolist()


@pytest.mark.slow
def test_the_python_api_block_runs(workdir: Path) -> None:
    namespace = {"new_users_df": _users(40, seed=3)}
    exec(compile(_block("## The Python API", "python"), "README.md", "exec"), namespace)
    assert (workdir / "runs/first/report.html").is_file()
    assert namespace["from_log"].n_segments == 3
    personas = namespace["result"].personas["personas"]
    assert sum(p["segment"] >= 0 for p in personas) == namespace["result"].n_segments
    run = namespace["run"]
    assert run.config == namespace["result"].config
    assert [s.persona for s in run.segments] == [p["name"] for p in personas]


@pytest.mark.slow
def test_the_persona_levels_block_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(README.parent)  # the block names the bundled log by its repo path
    namespace: dict = {}
    exec(compile(_block("## Personas a team can act on", "python"), "README.md", "exec"),
         namespace)
    assert 3 <= namespace["levels"]["personas"] <= 8
    table = namespace["table"]
    assert len(table) == 1_000 and (table["segment"] == -1).mean() < 0.05
    crosstab = namespace["rfm_crosstab"](namespace["result"].labels,
                                         namespace["rfm"]["rfm_segment"])
    assert int(crosstab.to_numpy().sum()) >= 1_000
