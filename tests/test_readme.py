"""Every code block of the README runs here, or says in the README why it cannot
(``NOT_RUN``). Blocks on real data run on small slices of ../shared/data, written where
the block expects them (``../shared/data/...`` beside a temporary repo folder)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from personae.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"
NOT_RUN = "not run by the test suite"
# heading of a section -> the test that runs its blocks, and how many blocks that is
RUN_BY = {
    "## The command line": ("test_the_command_line_tour_runs", 1),
    "## From a raw event log": ("test_the_event_log_block_runs", 1),
    "## Assigning users over HTTP": ("test_the_serve_block_runs", 1),
    "### Early assignment": ("test_the_early_assignment_block_runs", 1),
    "## When one machine is not enough": ("test_the_spark_blocks_run", 2),
    "### Sequences": ("test_the_sequences_block_runs", 1),
    "### Saying what your columns mean": ("test_the_semantics_block_is_read", 1),
    "## Uplift per segment": ("test_the_uplift_blocks_run", 2),
    "## Monitoring and governance": ("test_the_monitoring_block_runs", 1),
    "## The Python API": ("test_the_python_api_block_runs", 1),
    "## Personas a team can act on": ("test_the_persona_levels_block_runs", 1),
}


def readme_blocks() -> list[tuple[str, str, str]]:
    """(the heading above it, language, text) of every fenced block with a language (the
    blocks without one show output, not code)."""
    blocks, heading = [], ""
    lines = README.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#") and not line.startswith("#!"):
            heading = line
        if line.startswith("```"):
            end = lines.index("```", i + 1)
            if line[3:].strip():
                blocks.append((heading, line[3:].strip(), "\n".join(lines[i + 1:end])))
            i = end
        i += 1
    return blocks


def test_every_block_runs_in_a_test_or_says_why() -> None:
    blocks = readme_blocks()
    unaccounted = [f"{heading}: {text.splitlines()[0]}" for heading, _, text in blocks
                   if NOT_RUN not in text and not any(heading.startswith(h) for h in RUN_BY)]
    assert not unaccounted, f"README blocks neither tested nor saying why: {unaccounted}"
    for heading, (test, count) in RUN_BY.items():
        assert test in globals(), test
        found = [text for head, _, text in blocks if head.startswith(heading)]
        assert len(found) == count, f"{heading}: {len(found)} blocks, {test} runs {count}"


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


# ---------------------------------------------------------------- real-data blocks


def _section(heading: str) -> list[tuple[str, str]]:
    """(language, text) of the blocks under ``heading``."""
    return [(language, text) for head, language, text in readme_blocks()
            if head.startswith(heading)]


def _commands(text: str) -> list[str]:
    """The shell commands of a block: continuation lines joined, comments dropped."""
    joined = text.replace("\\\n", " ")
    return [line.split("  #")[0].strip() for line in joined.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def _cli(command: str) -> None:
    result = CliRunner().invoke(app, shlex.split(command)[1:])
    assert result.exit_code == 0, f"{command}\n{result.output}"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_data: Path) -> Path:
    """An empty repo folder to run in, with ../shared/data beside it (filled per test)."""
    folder = tmp_path / "repo"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def _slice(shared_data: Path, relative: str, keep: Any) -> pd.DataFrame:
    """``keep(frame)`` of a real data set, written to ../shared/data/``relative``."""
    frame = keep(pd.read_parquet(shared_data / relative))
    target = Path("..") / "shared" / "data" / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(target, index=False)
    return frame


RETAIL = "online_retail_ii/online_retail_ii_2009_2010.parquet"


def _retail_customers(n: int, first: int = 0) -> Any:
    """The lines of ``n`` customers of Online Retail II (every line of each)."""
    def keep(frame: pd.DataFrame) -> pd.DataFrame:
        ids = frame["Customer ID"].dropna().unique()[first:first + n]
        return frame[frame["Customer ID"].isin(ids)].reset_index(drop=True)
    return keep


@pytest.mark.slow
def test_the_event_log_block_runs(repo: Path, shared_data: Path) -> None:
    _slice(shared_data, RETAIL, _retail_customers(120))
    _slice(shared_data, "cdnow/cdnow_master.parquet", lambda f: f[f["customer_id"] <= 150])
    Path("logs").mkdir()
    for part in range(2):  # the block's own generic log: visitor, ts, action
        _events(60, seed=part).rename(columns={"customer": "visitor", "timestamp": "ts",
                                               "event": "action"}).to_csv(
            f"logs/part{part}.csv", index=False)
    for command in _commands(_section("## From a raw event log")[0][1]):
        _cli(command)
    assert pd.read_parquet("users.parquet")["user_id"].nunique() == 60
    assert (repo / "runs/cdnow/run.json").is_file()


def _personae(*args: str) -> list[str]:
    return [sys.executable, "-c", "from personae.cli import app; app()", *args]


def _serving(args: list[str], token: str) -> None:
    """``personae serve`` in a subprocess on a free loopback port: it answers /ready and
    assigns a user, then stops."""
    import httpx

    from serve.helpers import free_port

    port = free_port()
    # loopback and a free port whatever the line says: a test must not open the machine
    given = iter(args)
    args = [token if a == "$TOKEN" else a for a in given
            if a not in ("--host", "--port") or next(given) is None]
    args += ["--host", "127.0.0.1", "--port", str(port)]
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen(_personae(*args), env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    url, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {token}"}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, \
                process.communicate(timeout=5)[1][-2000:]
            time.sleep(0.2)
        user = {"user_id": "u1", "visits": 3, "spend": 40.0, "plan": "free"}
        answer = httpx.post(f"{url}/assign", json={"users": [user]}, headers=headers,
                            timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["assignments"][0]["user_id"] == "u1"
    finally:
        process.terminate()
        process.communicate(timeout=30)


@pytest.mark.slow
def test_the_serve_block_runs(workdir: Path) -> None:
    _cli("personae run users.csv --out runs/first")
    commands = _commands(_section("## Assigning users over HTTP")[0][1])
    assert commands[0].startswith("pip install")  # the extra the suite already installed
    for command in commands[1:]:
        _serving(shlex.split(command)[1:], token="s3cret")


@pytest.mark.slow
def test_the_early_assignment_block_runs(repo: Path, shared_data: Path) -> None:
    _slice(shared_data, RETAIL, _retail_customers(150))
    new = _retail_customers(40, first=150)(pd.read_parquet(shared_data / RETAIL))
    new.to_parquet("new_events.parquet", index=False)
    for command in _commands(_section("### Early assignment")[0][1]):
        _cli(command)
    labels = pd.read_csv("new_labels.csv")
    assert labels.columns[0] == "Customer ID"  # the log's own id name, as users_segmented
    assert labels["Customer ID"].nunique() == 40 and {"segment", "source"} <= set(labels.columns)


@pytest.mark.slow
def test_the_sequences_block_runs(repo: Path, shared_data: Path) -> None:
    log = _slice(shared_data, "rees46_2019oct_head/2019-Oct_head17434.parquet",
                 lambda f: f.head(12_000))
    pd.read_parquet(shared_data / "rees46_2019oct_head/2019-Oct_head17434.parquet").iloc[
        12_000:].to_parquet("new_events.parquet", index=False)
    for command in _commands(_section("### Sequences")[0][1]):
        _cli(command)
    labels = pd.read_csv("labels.csv")
    assert len(labels) == pd.read_parquet("new_users.parquet").shape[0] > 0
    assert log["user_id"].nunique() > labels.shape[0]


def test_the_semantics_block_is_read(tmp_path: Path) -> None:
    from personae.features.semantics import Semantics

    (language, text), = _section("### Saying what your columns mean")
    assert language == "yaml"
    (tmp_path / "meanings.yaml").write_text(text, encoding="utf-8")
    spend = Semantics.from_yaml(tmp_path / "meanings.yaml").describe("monthly_spend")
    assert (spend.label, spend.unit, spend.pain_when, spend.themes) == \
        ("Monthly spend", "EUR", "low", ("value",))


HILLSTROM = "hillstrom/hillstrom.parquet"


@pytest.mark.slow
def test_the_uplift_blocks_run(repo: Path, shared_data: Path) -> None:
    customers = pd.read_parquet(shared_data / HILLSTROM).head(3_000)
    customers.insert(0, "customer_id", range(1, len(customers) + 1))
    customers.drop(columns=["segment", "visit", "conversion", "spend"]).to_parquet(
        "features.parquet", index=False)
    customers[["customer_id", "segment", "visit", "conversion", "spend"]].to_parquet(
        "experiment.parquet", index=False)
    # the run the section describes in words, into the folder its Python block names
    _cli("personae run features.parquet --id-column customer_id --algorithm kmeans "
         "--out run")
    (_, bash), (_, python) = _section("## Uplift per segment")
    for command in _commands(bash.replace("RUN_DIR", "run")):
        _cli(command)
    assert {"segment", "effect", "q_value"} <= set(pd.read_csv("uplift/uplift.csv").columns)
    namespace: dict[str, Any] = {}
    exec(compile(python, "README.md", "exec"), namespace)
    assert set(namespace["result"].cells["level"]) >= {"all", "segment"}


def _shell(command: str) -> None:
    """A ``python -c`` line of a block, run by this interpreter."""
    args = shlex.split(command)
    assert args[0] == "python", command
    done = subprocess.run([sys.executable, *args[1:]], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, f"{command}\n{done.stderr[-2000:]}"


@pytest.mark.slow
def test_the_monitoring_block_runs(repo: Path, shared_data: Path) -> None:
    pytest.importorskip("mlflow")  # the block's last line tracks a run
    _slice(shared_data, RETAIL, _retail_customers(150))
    (_, text), = _section("## Monitoring and governance")
    for command in _commands(text.replace("[--track mlruns]", "--track mlruns")):
        _shell(command) if command.startswith("python ") else _cli(command)
    for folder in ("monitor/h2", "monitor/h2-refit", "monitor/h1-vs-h2"):
        assert (repo / folder / "monitor.html").is_file()
    assert (repo / "monitor/h1-vs-h2/segment_matching.csv").is_file()
    assert any((repo / "mlruns").iterdir())


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
def test_the_spark_blocks_run(repo: Path, shared_data: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    _slice(shared_data, RETAIL, _retail_customers(60))
    _events(60).to_parquet("events.parquet", index=False)
    (_, bash), (_, python) = _section("## When one machine is not enough")
    # a cluster's master URL becomes local[2]: the suite has no cluster to reach
    bash = re.sub(r"spark://\S+", "'local[2]'", bash)
    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)  # the executors' Python is ours
    # one JVM for the block: personae uses an active session as it is (a line's own would
    # start a JVM each, minutes on a loaded machine), with few partitions for small data
    session = (SparkSession.builder.master("local[2]").appName("personae-readme")
               .config("spark.sql.shuffle.partitions", "4")
               .config("spark.default.parallelism", "2")
               .config("spark.ui.enabled", "false").getOrCreate())
    try:
        for command in _commands(bash):
            _cli(command)
        exec(compile(python, "README.md", "exec"), {})
    finally:
        session.stop()
    assert (repo / "runs/spark/model/model.json").is_file()
    assert (repo / "runs/spark-events/run.json").is_file()
