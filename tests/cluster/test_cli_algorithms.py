"""`personae run --algorithm/--param`: the choice is printed, bad input is one line + exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from generated import blob_users
from personae.cli import app

runner = CliRunner()


@pytest.fixture
def users_csv(tmp_path: Path) -> Path:
    frame, _ = blob_users(n=500, k=3, n_features=4, seed=2)
    path = tmp_path / "users.csv"
    frame.to_csv(path, index=False)
    return path


def test_named_algorithm_with_a_parameter(tmp_path: Path, users_csv: Path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", str(users_csv), "--out", str(out), "--algorithm",
                                 "hdbscan", "--param", "min_cluster_size=20",
                                 "--report-map", "none"])
    assert result.exit_code == 0, result.output
    assert "algorithm: hdbscan (min_cluster_size=20, min_samples=5" in result.stdout
    assert "stability: mean ARI" in result.stdout
    info = json.loads((out / "run.json").read_text())
    assert info["algorithm"]["params"]["min_cluster_size"] == 20
    assert info["config"]["segmentation"]["params"] == {"min_cluster_size": 20}


@pytest.mark.parametrize(("args", "message"), [
    (["--algorithm", "spectral"], "--algorithm must be one of kmeans, minibatch, gmm, dbscan, "
                                  "hdbscan, hierarchical, meanshift, kprototypes, bisecting, "
                                  "auto; got 'spectral'"),
    (["--algorithm", "dbscan", "--param", "eps=wide"], "The 'eps' parameter of dbscan must be "
                                                       "a float in the range (0, inf)"),
    (["--algorithm", "dbscan", "--param", "radius=1"], "dbscan has no parameter 'radius'; its "
                                                       "parameters are eps, min_samples"),
    (["--param", "eps=1"], "--param needs a named --algorithm"),
    (["--algorithm", "gmm", "--param", "n_clusters"], "--param takes KEY=VALUE; got "
                                                      "'n_clusters'"),
])
def test_bad_algorithm_input(tmp_path: Path, users_csv: Path, args: list[str],
                             message: str) -> None:
    result = runner.invoke(app, ["run", str(users_csv), "--out", str(tmp_path / "x"), *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "x").exists()
