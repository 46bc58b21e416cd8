"""Habits of a command line: global flags after the command, and output to a pipe or a file
that never cuts a number or a name."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from generated import blob_users
from personae import load_run
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


def _log(path: Path, users: int = 60, missing_every: int = 0) -> Path:
    """Heavy and light buyers; every ``missing_every``-th row without its customer."""
    rng = np.random.default_rng(7)
    rows = []
    for u in range(users):
        for _ in range(int(rng.integers(8, 12)) if u % 2 else int(rng.integers(1, 3))):
            rows.append((float(17000 + u), pd.Timestamp("2010-01-04")
                         + pd.Timedelta(hours=int(rng.integers(0, 2000))),
                         float(rng.gamma(2.0, 30.0 if u % 2 else 5.0))))
    log = pd.DataFrame(rows, columns=["CustomerID", "InvoiceDate", "Amount"])
    if missing_every:
        log.loc[::missing_every, "CustomerID"] = None
    log.to_parquet(path)
    return path


def test_an_event_log_without_events_is_pointed_to_events(tmp_path: Path) -> None:
    log = _log(tmp_path / "log.parquet")
    result = runner.invoke(app, ["run", str(log), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "looks like an event log" in result.stderr and "--events" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_event_run_is_ready_for_a_crm_and_assign_says_missing_ids_once(tmp_path: Path
                                                                          ) -> None:
    run = tmp_path / "run"
    result = runner.invoke(app, ["run", str(_log(tmp_path / "log.parquet")), "--events",
                                 "--out", str(run), "--k", "2", "--algorithm", "kmeans",
                                 "--no-stability", "--report-map", "none"])
    assert result.exit_code == 0, result.output
    # the persona beside the segment, the users under the log's own id name: a CRM joins
    users = pd.read_csv(run / "users_segmented.csv")
    assert list(users.columns[:3]) == ["CustomerID", "segment", "persona"]
    assert list(pd.read_parquet(run / "users_segmented.parquet").columns[:1]) == ["CustomerID"]
    names = {p["segment"]: p["name"] for p in
             json.loads((run / "personas.json").read_text())["personas"]}
    assert (users["persona"] == users["segment"].map(names)).all()
    log_ids = {str(int(i)) for i in pd.read_parquet(tmp_path / "log.parquet")["CustomerID"]
               .dropna()}  # float in the log (it has gaps), whole numbers as ids
    assert set(users["CustomerID"].astype(str)) == log_ids
    # read back, every stage still sees user_id; the export keys on the log's name
    assert load_run(run).users.columns[0] == "user_id" and load_run(run).id_column == "user_id"
    exported = runner.invoke(app, ["export", str(run), "--to", str(tmp_path / "crm")])
    assert exported.exit_code == 0, exported.output
    audience = pd.read_parquet(tmp_path / "crm" / "audiences.parquet")
    assert audience.columns[0] == "CustomerID" and set(audience["CustomerID"]) == log_ids
    first = next(iter((tmp_path / "crm" / "personas").iterdir()))
    assert pd.read_csv(first).columns.tolist() == ["CustomerID"]
    gaps = _log(tmp_path / "gaps.parquet", missing_every=10)
    result = runner.invoke(app, ["assign", str(run / "model"), "--events", str(gaps), "--out",
                                 str(tmp_path / "labels.csv")])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(tmp_path / "labels.csv").columns[0] == "CustomerID"
    missing = int(pd.read_parquet(gaps)["CustomerID"].isna().sum())
    assert f"dropped: {missing:,} without user id" in result.output
    assert result.output.count("without a user id") + \
        result.output.count("without user id") == 1, result.output

    export = pd.read_parquet(gaps).rename(columns={"CustomerID": "Customer ID"})
    export.to_parquet(tmp_path / "export.parquet")  # a new export names the id otherwise
    result = runner.invoke(app, ["assign", str(run / "model"), "--events",
                                 str(tmp_path / "export.parquet"), "--out",
                                 str(tmp_path / "export_labels.csv")])
    assert result.exit_code == 0, result.output
    assert "the run's columns 'CustomerID' are not in" in result.output
    assert "detected by name instead: user='Customer ID'" in " ".join(result.output.split())
    assert pd.read_csv(tmp_path / "export_labels.csv")["segment"].tolist() == \
        pd.read_csv(tmp_path / "labels.csv")["segment"].tolist()
    assert pd.read_csv(tmp_path / "export_labels.csv").columns[0] == "Customer ID"


def test_a_tables_own_id_column_name_is_kept_through_run_load_and_export(tmp_path: Path
                                                                         ) -> None:
    frame, _ = blob_users(n=240, k=3, n_features=3, seed=7)
    frame = frame.rename(columns={frame.columns[0]: "student_id"})
    frame.to_csv(tmp_path / "students.csv", index=False)
    run = tmp_path / "run"
    result = runner.invoke(app, ["run", str(tmp_path / "students.csv"), "--out", str(run),
                                 "--id-column", "student_id", "--k", "3", "--algorithm",
                                 "kmeans", "--no-stability", "--report-map", "none"])
    assert result.exit_code == 0, result.output
    written = pd.read_csv(run / "users_segmented.csv")
    assert written.columns[0] == "student_id" and "user_id" not in written.columns
    assert written["student_id"].tolist() == frame["student_id"].tolist()
    assert load_run(run).users.columns[0] == "student_id"
    assert runner.invoke(app, ["export", str(run), "--to", str(tmp_path / "crm")]).exit_code == 0
    identify = [json.loads(line) for line in
                (tmp_path / "crm" / "identify.jsonl").read_text().splitlines()]
    assert {call["userId"] for call in identify} == set(frame["student_id"].astype(str))
    assert pd.read_parquet(tmp_path / "crm" / "audiences.parquet").columns[0] == "student_id"


def test_report_map_tsne_draws_the_map_with_t_sne(tmp_path: Path) -> None:
    frame, _ = blob_users(n=150, k=3, n_features=3, seed=6)
    frame.to_csv(tmp_path / "users.csv", index=False)
    result = runner.invoke(app, ["run", str(tmp_path / "users.csv"), "--out",
                                 str(tmp_path / "run"), "--k", "3", "--algorithm", "kmeans",
                                 "--no-stability", "--report-map", "tsne"])
    assert result.exit_code == 0, result.output
    drawn = pd.read_parquet(tmp_path / "run" / "user_map.parquet")
    assert drawn["method"].iloc[0] == "t-SNE"
    library = drawn["library"].iloc[0]  # openTSNE with the [umap] extra, else scikit-learn
    assert library == ("openTSNE" if importlib.util.find_spec("openTSNE") else "scikit-learn")
    assert f"t-SNE ({library}, perplexity up to 30, PCA start, seed 0)" in \
        (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    result = runner.invoke(app, ["run", str(tmp_path / "users.csv"), "--out",
                                 str(tmp_path / "run2"), "--report-map", "tsn"])
    assert result.exit_code == 2 and "tsne" in result.stderr


def _commands(command, path=("personae",)):
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _commands(sub, (*path, name))


def _setting_default(path: str):
    """A run setting's default, in a config where every section exists."""
    from personae.config import RunConfig

    value = RunConfig.model_validate({"input": {"events": {}, "sequences": {}}})
    for part in path.split("."):
        value = getattr(value, part)
    return value


def _said(value) -> list[str]:
    """How a help text may write a default: 0, 200,000, 2..10, pca."""
    if isinstance(value, tuple):
        return ["..".join(map(str, value))]
    return [str(value), f"{value:,}"] if isinstance(value, int) else [str(value)]


def test_help_lists_every_option_with_its_default() -> None:
    """Every option of every command: a default click knows is shown as '[default: X]'; a
    run setting whose flag defaults to the config's value names that value beside the word
    'default' (checked against RunConfig, so the help cannot drift from it)."""
    import re

    from typer.main import get_command

    from personae.cli._settings import FLAGS

    setting_of = {flag: path for path, flag in FLAGS.items()}
    for path, command in _commands(get_command(app)):
        shown = runner.invoke(app, [*path[1:], "--help"], terminal_width=400)
        assert shown.exit_code == 0, shown.output
        text = " ".join(shown.output.split())
        for option in (p for p in command.params if p.param_type_name == "option"):
            name = option.opts[0]
            where = f"{' '.join(path)} {name}"
            if name == "--help" or (option.is_flag and not option.default):
                continue  # a flag is off unless given
            if isinstance(option.show_default, str):  # words for a default, in brackets
                assert f"[default: ({option.show_default})]" in text, where
            elif option.default is not None:
                assert f"[default: {option.default}]" in text, where
            if option.default is not None:
                continue
            # --embed switches its section on: when not given there are no embeddings
            default = _setting_default(setting_of[name]) if name in setting_of and \
                path[-1] == "run" and name != "--embed" else None
            if default in (None, {}, []) or isinstance(default, bool):
                continue  # nothing to show: the option is off or required when not given
            help_text = " ".join((option.help or "").split())
            near = [help_text[max(0, m.start() - 40):m.end() + 40]
                    for m in re.finditer("default", help_text)]
            assert any(said in part for part in near for said in _said(default)), \
                f"{where}: the help does not say its default {default!r}: {help_text!r}"
