"""Defects a new user hit, each pinned."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from personae.cli import app
from personae.pipeline import segment

runner = CliRunner()


def test_a_table_of_ids_and_unique_names_is_a_clear_error(tmp_path: Path) -> None:
    data = tmp_path / "people.csv"
    pd.DataFrame({"user_id": range(40), "name": [f"person {i}" for i in range(40)]}).to_csv(
        data, index=False)
    result = runner.invoke(app, ["run", str(data), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "no usable feature column" in result.output
    assert not (tmp_path / "o").exists()


def test_event_columns_named_cust_and_date_are_found(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    rng = np.random.default_rng(0)
    pd.DataFrame({"cust": rng.integers(0, 30, 300),
                  "date": pd.Timestamp("2024-01-01")
                  + pd.to_timedelta(rng.integers(0, 90, 300), unit="D"),
                  "amount": rng.gamma(2.0, 10.0, 300).round(2)}).to_csv(log, index=False)
    out = tmp_path / "f.parquet"
    result = runner.invoke(app, ["features", str(log), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert pd.read_parquet(out)["user_id"].nunique() == 30


def test_every_run_writes_the_table_that_decided_the_segments() -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(300, 2)) + np.repeat([[0, 0], [6, 6]], 150, axis=0),
                         columns=["a", "b"])
    gmm = segment(frame, algorithm="gmm", k_range=(2, 4), stability=False)
    assert {"k", "covariance_type", "bic", "chosen"} <= set(gmm.k_table.columns)
    assert gmm.k_table.loc[gmm.k_table["chosen"], "k"].tolist() == [gmm.n_segments]
    dense = segment(frame, algorithm="dbscan", stability=False)
    assert dense.k_table.loc[0, "decided_by"] == "the algorithm"
    assert dense.k_table.loc[0, "segments"] == dense.n_segments
