"""MLflow run history in a temporary local store, read back with MLflow's own client."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from personae.errors import ConfigError
from personae.monitor import monitor
from personae.monitor.tracking import _file_store_allowed, store_uri, track_monitor, track_run

mlflow = pytest.importorskip("mlflow", reason="the [mlflow] extra is not installed")


def _read(uri: str, run_id: str):
    with _file_store_allowed():
        client = mlflow.tracking.MlflowClient(tracking_uri=uri)
        run = client.get_run(run_id)
        artifacts = {a.path for a in client.list_artifacts(run_id)}
    return run, artifacts


def test_a_run_folder_is_logged_with_params_metrics_tags_and_artifacts(run_a: Path,
                                                                       tmp_path: Path):
    before = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    store = tmp_path / "mlruns"
    run_id = track_run(run_a, store)
    assert os.environ.get("MLFLOW_ALLOW_FILE_STORE") == before  # restored
    run, artifacts = _read(store_uri(store), run_id)
    assert run.data.params["k"] == "3" and run.data.params["algorithm"] == "kmeans"
    assert run.data.metrics["segments"] == 3 and run.data.metrics["users"] == 2400
    shares = [run.data.metrics[f"segment_{i}.share"] for i in range(3)]
    assert sum(shares) == pytest.approx(1.0)
    assert run.data.metrics["stability.ari_mean"] == 1.0  # K given: no silhouette search
    assert "inertia_all_users" in run.data.metrics
    assert run.data.tags["personae.kind"] == "run"
    assert {"run.json", "segment_profiles.csv", "model"} <= artifacts


def test_a_monitor_result_is_logged_with_psi_per_feature(run_a: Path, planted,
                                                         tmp_path: Path):
    frame = planted[0].copy()
    frame["m1"] += frame["m1"].std()
    result = monitor(run_a, frame)
    out = result.save(tmp_path / "mon")
    store = tmp_path / "mlruns"
    run_id = track_monitor(result, out, store.as_uri())
    run, artifacts = _read(store.as_uri(), run_id)
    metrics = run.data.metrics
    assert metrics["feature.m1.psi"] >= 0.25 and metrics["feature.m0.psi"] == 0
    assert metrics["drift_count.significant"] == 1 and metrics["retrain"] == 1
    assert run.data.tags["personae.retrain"] == "yes"
    assert {"drift.csv", "monitor.html", "governance.json"} <= artifacts


def test_a_remote_store_is_refused():
    with pytest.raises(ConfigError, match="local folder"):
        store_uri("http://tracking.example:5000")


def test_cli_tracks_a_run_and_a_monitor_and_refuses_a_server_first(run_a: Path, planted,
                                                                    tmp_path: Path):
    from typer.testing import CliRunner

    from personae.cli import app

    runner = CliRunner()
    store = tmp_path / "store"
    result = runner.invoke(app, ["track", str(run_a), "--to", str(store)])
    assert result.exit_code == 0 and "tracked: MLflow run" in result.output, result.output
    new = tmp_path / "new.csv"
    planted[0].to_csv(new, index=False)
    out = tmp_path / "mon"
    result = runner.invoke(app, ["monitor", str(run_a), str(new), "--out", str(out),
                                 "--track", "https://mlflow.example"])
    assert result.exit_code == 2 and "local folder" in result.output
    assert not out.exists()
    result = runner.invoke(app, ["monitor", str(run_a), str(new), "--out", str(out),
                                 "--track", str(store)])
    assert result.exit_code == 0, result.output
    with _file_store_allowed():
        client = mlflow.tracking.MlflowClient(tracking_uri=store_uri(store))
        runs = client.search_runs([client.get_experiment_by_name("personae").experiment_id])
    assert sorted(r.data.tags["personae.kind"] for r in runs) == ["monitor", "run"]


def test_a_monitor_refit_logs_what_a_retrain_would_change(run_a: Path, planted,
                                                           tmp_path: Path):
    result = monitor(run_a, planted[0], refit=True)
    out = result.save(tmp_path / "mon")
    store = tmp_path / "mlruns"
    run, artifacts = _read(store_uri(store), track_monitor(result, out, store))
    assert run.data.metrics["refit.segments"] == 3
    assert run.data.metrics["refit.fate.survives"] == 3 and run.data.metrics["refit.retrain"] == 0
    assert {"segment_matching.csv", "refit"} <= artifacts


def test_mlflows_default_sqlite_store_takes_a_run(run_a: Path, tmp_path: Path, monkeypatch):
    """sqlite:///mlflow.db is MLflow's default store since 3.7; read back with its client.
    Its artifacts go where MLflow puts them by default, ./mlruns: here, the test's folder."""
    pytest.importorskip("sqlalchemy", reason="the [mlflow] extra's SQL store is not installed")
    pytest.importorskip("alembic", reason="the [mlflow] extra's SQL store is not installed")
    from personae.monitor.tracking import check_store

    monkeypatch.chdir(tmp_path)

    uri = check_store(server=f"sqlite:///{tmp_path / 'mlflow.db'}")
    run_id = track_run(run_a, uri)
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    run = client.get_run(run_id)
    assert run.data.params["algorithm"] == "kmeans" and run.data.metrics["segments"] == 3
    assert (tmp_path / "mlflow.db").is_file()
    assert {a.path for a in client.list_artifacts(run_id)} >= {"run.json", "model"}
    assert [r.info.run_id for r in client.search_runs(
        [client.get_experiment_by_name("personae").experiment_id])] == [run_id]


def test_a_sql_store_without_its_packages_says_what_to_install(monkeypatch, tmp_path: Path):
    import sys

    from personae.monitor.tracking import check_store

    monkeypatch.setitem(sys.modules, "sqlalchemy", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"^--tracking-uri sqlite:///.*mlflow.db: MLflow's "
                                          r"SQL store needs sqlalchemy and alembic: pip "
                                          r"install 'personae\[mlflow\]'$"):
        check_store(server=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert check_store(server="http://localhost:5000") == "http://localhost:5000"
