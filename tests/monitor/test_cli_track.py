"""`personae run --track`, `--tracking-uri` on every command, MLflow's limits; read back with
MLflow's own client from a temporary local store."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from personae.cli import app

runner = CliRunner()
RUN = ["--k", "3", "--algorithm", "kmeans", "--report-map", "none"]


def _client(uri: str):
    mlflow = pytest.importorskip("mlflow", reason="the [mlflow] extra is not installed")
    return mlflow.tracking.MlflowClient(tracking_uri=uri)


def _runs(uri: str):
    from personae.monitor.tracking import _file_store_allowed

    with _file_store_allowed():
        client = _client(uri)
        experiment = client.get_experiment_by_name("personae")
        runs = client.search_runs([experiment.experiment_id])
        return [(r, {a.path for a in client.list_artifacts(r.info.run_id)}) for r in runs]


@pytest.fixture
def users_csv(planted, tmp_path: Path) -> Path:
    path = tmp_path / "users.csv"
    planted[0].to_csv(path, index=False)
    return path


def test_run_is_tracked_after_it_is_saved(users_csv: Path, tmp_path: Path):
    pytest.importorskip("mlflow", reason="the [mlflow] extra is not installed")
    from personae.monitor.tracking import store_uri

    store = tmp_path / "mlruns"
    result = runner.invoke(app, ["run", str(users_csv), "--out", str(tmp_path / "run"), *RUN,
                                 "--track", str(store)])
    assert result.exit_code == 0, result.output
    assert "tracked: MLflow run" in result.output
    [(run, artifacts)] = _runs(store_uri(store))
    assert run.data.tags["personae.kind"] == "run"
    assert run.data.params["k"] == "3" and run.data.params["algorithm"] == "kmeans"
    assert run.data.metrics["segments"] == 3 and run.data.metrics["users"] == 2400
    assert {"run.json", "report.html", "personas.json", "model"} <= artifacts


def test_tracking_uri_takes_a_store_uri_on_run_monitor_and_compare(users_csv: Path,
                                                                   tmp_path: Path):
    pytest.importorskip("mlflow", reason="the [mlflow] extra is not installed")
    uri = (tmp_path / "server-store").as_uri()  # what a server URI stands for, offline
    run = tmp_path / "run"
    steps = [["run", str(users_csv), "--out", str(run), *RUN],
             ["monitor", str(run), str(users_csv), "--out", str(tmp_path / "mon")],
             ["compare", str(run), str(run), "--out", str(tmp_path / "cmp")],
             ["track", str(run)]]
    for step in steps:
        result = runner.invoke(app, [*step, "--tracking-uri", uri])
        assert result.exit_code == 0, result.output
        assert f"in {uri}" in result.output
    kinds = sorted(r.data.tags["personae.kind"] for r, _ in _runs(uri))
    assert kinds == ["compare", "monitor", "run", "run"]


@pytest.mark.parametrize("case", ["no_mlflow", "both", "server_as_folder"])
def test_a_bad_tracking_option_is_one_line_before_any_work(users_csv: Path, tmp_path: Path,
                                                           monkeypatch, case: str):
    out = tmp_path / "run"
    args = ["run", str(users_csv), "--out", str(out), *RUN]
    if case == "no_mlflow":
        monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow -> ImportError
        args += ["--track", str(tmp_path / "mlruns")]
        expected = "--track needs MLflow: pip install 'personae[mlflow]'"
    elif case == "both":
        args += ["--track", str(tmp_path / "mlruns"), "--tracking-uri", "http://h:5000"]
        expected = "not both"
    else:
        args += ["--track", "http://mlflow.example:5000"]
        expected = "for a tracking server use --tracking-uri"
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and expected in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not out.exists() and not (tmp_path / "mlruns").exists()


def test_params_metrics_and_tags_are_batched_to_mlflows_limits(tmp_path: Path):
    pytest.importorskip("mlflow", reason="the [mlflow] extra is not installed")
    from personae.monitor.tracking import CUT, _file_store_allowed, _log, store_uri

    uri = store_uri(tmp_path / "mlruns")
    params = {f"segmentation.params.p{i:03d}": i for i in range(250)}  # > 100 a call
    params["features"] = ",".join(f"feature_{i}" for i in range(1000))  # > 6,000 chars
    metrics = {f"feature.f{i:04d}.psi": i / 10 for i in range(2500)}  # > 1,000 a call
    tags = {f"personae.t{i}": "x" for i in range(150)}
    run_id = _log(uri, "wide", params, metrics, tags, [])
    with _file_store_allowed():
        run = _client(uri).get_run(run_id)
    assert len(run.data.params) == 251 and run.data.params["segmentation.params.p249"] == "249"
    assert len(run.data.params["features"]) == 6000
    assert run.data.params["features"].endswith(CUT)
    assert len(run.data.metrics) == 2500 and run.data.metrics["feature.f2499.psi"] == 249.9
    assert len([t for t in run.data.tags if t.startswith("personae.t")]) == 150


@pytest.mark.parametrize("where", ["last", "before_an_option", "before_the_input"])
def test_track_alone_logs_where_mlflow_itself_would(users_csv: Path, tmp_path: Path,
                                                    monkeypatch, where: str):
    """No folder: MLflow's own default store, asked of MLflow (sqlite:///mlflow.db in the
    working directory since MLflow 3.7), and read back with its client."""
    mlflow = pytest.importorskip("mlflow", reason="the [mlflow] extra is not installed")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    args = [*RUN, "--track"] if where == "last" else ["--track", *RUN]
    command = ["run", str(users_csv), "--out", "run", *args]
    if where == "before_the_input":  # the input file is no store folder
        command = ["run", "--track", str(users_csv), "--out", "run", *RUN]
    result = runner.invoke(app, command)
    assert result.exit_code == 0, result.output
    default = mlflow.get_tracking_uri()
    assert default == f"sqlite:///{tmp_path / 'mlflow.db'}"  # what MLflow 3.7+ answers
    assert f"in {default}" in result.output and (tmp_path / "mlflow.db").is_file()
    [(run, artifacts)] = _runs(default)
    assert run.data.params["algorithm"] == "kmeans" and "report.html" in artifacts


def test_track_alone_honours_mlflow_tracking_uri(users_csv: Path, tmp_path: Path,
                                                 monkeypatch):
    pytest.importorskip("mlflow", reason="the [mlflow] extra is not installed")
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'team.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    result = runner.invoke(app, ["run", str(users_csv), "--out", "run", *RUN, "--track"])
    assert result.exit_code == 0, result.output
    assert f"in {uri}" in result.output and not (tmp_path / "mlflow.db").exists()
    assert [r.data.tags["personae.kind"] for r, _ in _runs(uri)] == ["run"]
    both = runner.invoke(app, ["track", "run", "--track", "--tracking-uri", uri])
    assert both.exit_code == 2 and "not both" in both.output
