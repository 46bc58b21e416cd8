"""`personae run --tracking-uri http://...` against a real `mlflow server` on a free loopback
port, read back through MLflow's client. The server is full mlflow, in the venv
`make install-dev` builds beside ours (.venv-mlflow-server, from requirements/
mlflow-server.txt: its pyarrow pin is older than our lock's)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from personae.cli import app

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / ".venv-mlflow-server" / "bin" / "mlflow"
STARTUP_SECONDS = 180  # a cold start on a busy 2-core machine took 27 s


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def mlflow_server(tmp_path: Path):
    if not SERVER.is_file():
        pytest.skip(f"NO MLFLOW SERVER: {SERVER} is missing; 'make install-dev' (or 'make "
                    "mlflow-server') installs it, and said why it could not")
    port = _free_port()
    log = (tmp_path / "server.log").open("wb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    server = subprocess.Popen(
        [str(SERVER), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", str(tmp_path / "server-artifacts")],
        cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                tail = (tmp_path / "server.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"mlflow server did not answer on {url}:\n{tail}")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and the workers it started
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


@pytest.mark.slow
def test_a_run_is_tracked_on_an_mlflow_server(mlflow_server: str, planted, tmp_path: Path):
    from mlflow.tracking import MlflowClient

    users = tmp_path / "users.csv"
    planted[0].to_csv(users, index=False)
    result = CliRunner().invoke(app, [
        "run", str(users), "--out", str(tmp_path / "run"), "--k", "3", "--algorithm", "kmeans",
        "--report-map", "none", "--tracking-uri", mlflow_server])
    assert result.exit_code == 0, result.output
    assert f"in {mlflow_server}" in result.output
    client = MlflowClient(tracking_uri=mlflow_server)
    [run] = client.search_runs([client.get_experiment_by_name("personae").experiment_id])
    assert run.data.tags["personae.kind"] == "run" and run.info.status == "FINISHED"
    assert run.data.params["algorithm"] == "kmeans" and run.data.metrics["segments"] == 3
    assert run.data.metrics["users"] == 2400
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"run.json", "report.html", "personas.json", "model"} <= artifacts
    # the artifacts went through the server into its own store, not beside the client
    assert any((tmp_path / "server-artifacts").rglob("report.html"))
